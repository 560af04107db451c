"""Data categories: whole-segment prefix matching and the classes the procedure relies on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

NON_PERSONAL_PREFIXES = ("business", "transit")
PERSONAL_PREFIX = "pi"
SENSITIVE_PREFIX = "pi.sensitive"
IMPORTANT_PREFIX = "important"
_CLASSED = ("pi", "important", "business", "transit")


def matches(prefix: str, category: str) -> bool:
    """`prefix` matches `category` by whole dotted segments (`pi` does not match `pipeline.x`)."""
    return category == prefix or category.startswith(prefix + ".")


@lru_cache(maxsize=65536)
def ancestors(category: str) -> frozenset[str]:
    """`category` and every whole-segment prefix of it: what `matches` would accept."""
    parts = category.split(".")
    return frozenset(".".join(parts[:i]) for i in range(1, len(parts) + 1))


def matches_any(prefixes: Iterable[str], category: str) -> bool:
    """Some prefix matches `category` (one set probe per prefix, not a string scan each)."""
    return not ancestors(category).isdisjoint(prefixes)


@lru_cache(maxsize=65536)
def is_important(category: str) -> bool:
    return matches(IMPORTANT_PREFIX, category)


@lru_cache(maxsize=65536)
def is_non_personal(category: str) -> bool:
    return matches_any(NON_PERSONAL_PREFIXES, category)


@lru_cache(maxsize=65536)
def is_personal(category: str) -> bool:
    """`pi.*`, or a sector item (any category outside the four classed prefixes)."""
    return matches(PERSONAL_PREFIX, category) or not matches_any(_CLASSED, category)


def carries_personal(categories: Iterable[str]) -> bool:
    return any(is_personal(c) for c in categories)


def carries_sensitive(categories: Iterable[str], sensitive_subjects: int) -> bool:
    return sensitive_subjects >= 1 or any(matches(SENSITIVE_PREFIX, c) for c in categories)


def carries_important(categories: Iterable[str]) -> bool:
    return any(is_important(c) for c in categories)


def all_non_personal(categories: Iterable[str]) -> bool:
    return all(is_non_personal(c) for c in categories)


class CategoryClasses(NamedTuple):
    """What the decision procedure asks of a transfer's categories, answered once per set."""

    categories: frozenset[str]
    all_non_personal: bool
    important: bool
    personal: bool
    sensitive: bool  # a `pi.sensitive` category (sensitive subjects are counted separately)


def classes_of(categories: Sequence[str]) -> CategoryClasses:
    """The classes of a transfer's categories: a few dozen lists recur in every batch, and
    asking each predicate per log cost ~3 µs of its ~25 µs evaluation."""
    return _classes(tuple(categories))


@lru_cache(maxsize=65536)
def _classes(categories: tuple[str, ...]) -> CategoryClasses:
    return CategoryClasses(
        frozenset(categories),
        all_non_personal(categories),
        carries_important(categories),
        carries_personal(categories),
        carries_sensitive(categories, 0),
    )


def covered(declared: Iterable[str], observed: str) -> bool:
    """A declared category covers an observed one it matches (`pi.sensitive` covers `.health`)."""
    return matches_any(declared, observed)
