"""Load the versioned reference data shipped under `pipeline/refdata/`, validated at load.

Three kinds of file:

- negative-list editions (`refdata/negative_lists/*.yaml`): a header (`list_id`, `version`,
  `ftz`, `region`, `effective_from`, `effective_until`, `source`, `example`) and `items`; each
  item is expanded with the header into one `NegativeListEntry` of the contract and validated by
  that same model, so a shipped list and a replayed `negative_list.jsonl` obey one schema;
- the category taxonomy (`refdata/categories.yaml`);
- the destination-country risk table (`refdata/country_risk.yaml`).

Every function is pure apart from reading the file it is given. YAML timestamps are read as
text and parsed by the contract's datetime type (an offset is required), exactly as in JSON.
Errors are `ReferenceDataError` naming the file and, for list items, the item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.rules.categories import matches
from schemas.errors import describe_error
from schemas.models import NegativeListEntry
from schemas.types import Category, DestinationCountry, Id, Text, UtcDatetime

REFDATA_DIR = Path(__file__).parent / "refdata"
DEFAULT_NEGATIVE_LISTS_DIR = REFDATA_DIR / "negative_lists"
DEFAULT_CATEGORIES_PATH = REFDATA_DIR / "categories.yaml"
DEFAULT_COUNTRY_RISK_PATH = REFDATA_DIR / "country_risk.yaml"

#: Entry fields a negative-list file sets once in its header for every item.
_HEADER_OWNED = frozenset({"list_id", "ftz", "region", "effective_from", "effective_until"})


class ReferenceDataError(ValueError):
    """A reference file is missing, unreadable or invalid; the message names file and item."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- YAML --------------------------------------------------------------------------------------


class _TextTimestampLoader(yaml.SafeLoader):
    """Safe loader that leaves timestamps as text, for the contract's datetime parser."""


_TextTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_TextTimestampLoader)
    except OSError as exc:
        raise ReferenceDataError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ReferenceDataError(f"{path}: expected a mapping at the top level")
    return data


# --- negative lists ----------------------------------------------------------------------------


class NegativeListHeader(_Frozen):
    """The header of a negative-list edition file: what applies to every one of its items."""

    list_id: Id
    version: Id
    ftz: Id
    region: Id | None = None
    effective_from: UtcDatetime | None
    effective_until: UtcDatetime | None = None
    source: Text = Field(min_length=1)
    example: StrictBool
    items: list[Any] = Field(min_length=1)

    @model_validator(mode="after")
    def _window_ordered(self) -> NegativeListHeader:
        if (
            self.effective_from is not None
            and self.effective_until is not None
            and self.effective_until < self.effective_from
        ):
            raise ValueError("effective_until is before effective_from")
        return self


def _item_label(index: int, item: Any) -> str:
    if isinstance(item, Mapping) and isinstance(item.get("item_id"), str):
        return f"items[{index}] (item_id {item['item_id']!r})"
    return f"items[{index}]"


def load_negative_list_file(path: Path | str) -> list[NegativeListEntry]:
    """One negative-list edition, one `NegativeListEntry` per item, in file order.

    Items give `item_id`, `sector`, `categories`, `description`, `required_path` and optionally
    `min_subjects`; the header supplies `list_id`, `ftz`, `region` and the effective window.
    """
    path = Path(path)
    raw = _read_yaml_mapping(path)
    try:
        header = NegativeListHeader.model_validate(raw)
    except ValidationError as exc:
        raise ReferenceDataError(f"{path}: header: {describe_error(exc)}") from exc

    shared = {
        "list_id": header.list_id,
        "ftz": header.ftz,
        "region": header.region,
        "effective_from": header.effective_from,
        "effective_until": header.effective_until,
    }
    entries: list[NegativeListEntry] = []
    seen: set[str] = set()
    for index, item in enumerate(header.items):
        label = _item_label(index, item)
        if not isinstance(item, Mapping):
            raise ReferenceDataError(f"{path}: {label}: expected a mapping")
        owned = sorted(_HEADER_OWNED & set(item))
        if owned:
            raise ReferenceDataError(
                f"{path}: {label}: {', '.join(owned)} set by the file header, not per item"
            )
        try:
            entry = NegativeListEntry.model_validate({**item, **shared})
        except ValidationError as exc:
            raise ReferenceDataError(f"{path}: {label}: {describe_error(exc)}") from exc
        if entry.item_id in seen:
            raise ReferenceDataError(f"{path}: {label}: duplicate item_id {entry.item_id!r}")
        seen.add(entry.item_id)
        entries.append(entry)
    return entries


def load_negative_lists(directory: Path | str | None = None) -> list[NegativeListEntry]:
    """Every edition (`*.yaml`) in `directory`, the shipped ones by default.

    Files are read in name order; a `list_id` used by two files is an error.
    """
    root = Path(directory) if directory is not None else DEFAULT_NEGATIVE_LISTS_DIR
    if not root.is_dir():
        raise ReferenceDataError(f"{root}: not a directory of negative-list files")
    entries: list[NegativeListEntry] = []
    owners: dict[str, Path] = {}
    for path in sorted(root.glob("*.yaml")):
        edition = load_negative_list_file(path)
        list_id = edition[0].list_id
        if list_id in owners:
            raise ReferenceDataError(
                f"{path}: list_id {list_id!r} is already used by {owners[list_id]}"
            )
        owners[list_id] = path
        entries.extend(edition)
    return entries


# --- category taxonomy -------------------------------------------------------------------------

CategoryClass = Literal[
    "personal", "sensitive_personal", "important", "business", "transit", "sector_item"
]


def expected_class(code: str) -> CategoryClass:
    """The class the contract gives a category code by its prefix."""
    if matches("pi.sensitive", code):
        return "sensitive_personal"
    if matches("pi", code):
        return "personal"
    if matches("important", code):
        return "important"
    if matches("business", code):
        return "business"
    if matches("transit", code):
        return "transit"
    return "sector_item"


class CategoryDefinition(_Frozen):
    """One code of the taxonomy with its labels."""

    code: Category
    category_class: CategoryClass = Field(alias="class")
    en: Text = Field(min_length=1)
    zh: Text = Field(min_length=1)
    sector: Id | None = None

    @model_validator(mode="after")
    def _class_agrees(self) -> CategoryDefinition:
        expected = expected_class(self.code)
        if self.category_class != expected:
            raise ValueError(
                f"{self.code!r} is of class {expected!r} by its prefix, not {self.category_class!r}"
            )
        if self.sector is not None and self.category_class != "sector_item":
            raise ValueError(f"{self.code!r}: only sector items name a sector")
        return self


class CategoryTaxonomy(_Frozen):
    """The category codes xbmon knows, with English and Chinese labels."""

    version: Id
    categories: tuple[CategoryDefinition, ...] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: tuple[CategoryDefinition, ...]) -> tuple[CategoryDefinition, ...]:
        seen: set[str] = set()
        for definition in value:
            if definition.code in seen:
                raise ValueError(f"duplicate code {definition.code!r}")
            seen.add(definition.code)
        return value

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(definition.code for definition in self.categories)

    def get(self, code: str) -> CategoryDefinition | None:
        """The definition of exactly `code`, if listed."""
        for definition in self.categories:
            if definition.code == code:
                return definition
        return None

    def resolve(self, code: str) -> CategoryDefinition | None:
        """The most specific listed code matching `code` by whole segments, if any."""
        best: CategoryDefinition | None = None
        for definition in self.categories:
            if matches(definition.code, code) and (
                best is None or len(definition.code) > len(best.code)
            ):
                best = definition
        return best

    def unknown(self, codes: Iterable[str]) -> list[str]:
        """The codes (sorted, unique) that are not listed exactly."""
        known = self.codes
        return sorted({code for code in codes if code not in known})


def load_category_taxonomy(path: Path | str | None = None) -> CategoryTaxonomy:
    """The category taxonomy; the shipped one when no path is given."""
    source = Path(path) if path is not None else DEFAULT_CATEGORIES_PATH
    raw = _read_yaml_mapping(source)
    try:
        return CategoryTaxonomy.model_validate(raw)
    except ValidationError as exc:
        raise ReferenceDataError(f"{source}: {describe_error(exc)}") from exc


# --- country risk ------------------------------------------------------------------------------


class CountryRisk(_Frozen):
    """A destination's risk score (0 lowest, 100 highest) and why."""

    score: Annotated[int, Field(strict=True, ge=0, le=100)]
    basis: Text = Field(min_length=1)


class CountryRiskTable(_Frozen):
    """Risk scores by destination country, with a default for countries not listed."""

    version: Id
    default: CountryRisk
    countries: dict[DestinationCountry, CountryRisk]

    @field_validator("countries", mode="before")
    @classmethod
    def _no_boolean_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, bool):
                    raise ValueError(
                        f"a country code was read as the boolean {key}: quote codes such as "
                        '"NO" in YAML'
                    )
        return value

    def risk(self, country: str) -> CountryRisk:
        """The entry for `country`, or the default."""
        return self.countries.get(country, self.default)

    def score(self, country: str) -> int:
        return self.risk(country).score


def load_country_risk(path: Path | str | None = None) -> CountryRiskTable:
    """The destination-country risk table; the shipped example when no path is given."""
    source = Path(path) if path is not None else DEFAULT_COUNTRY_RISK_PATH
    raw = _read_yaml_mapping(source)
    try:
        return CountryRiskTable.model_validate(raw)
    except ValidationError as exc:
        raise ReferenceDataError(f"{source}: {describe_error(exc)}") from exc


__all__ = [
    "DEFAULT_CATEGORIES_PATH",
    "DEFAULT_COUNTRY_RISK_PATH",
    "DEFAULT_NEGATIVE_LISTS_DIR",
    "REFDATA_DIR",
    "CategoryClass",
    "CategoryDefinition",
    "CategoryTaxonomy",
    "CountryRisk",
    "CountryRiskTable",
    "NegativeListHeader",
    "ReferenceDataError",
    "expected_class",
    "load_category_taxonomy",
    "load_country_risk",
    "load_negative_list_file",
    "load_negative_lists",
]
