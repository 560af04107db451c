"""The decision procedure: which path one transfer requires (spec, "The decision procedure").

`decide_path` is called with the enterprise's counters *before* this transfer; it returns
the path and the counts it used, and `apply_counts` then books the transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from pipeline.config import RulesConfig
from pipeline.rules import categories as cat
from pipeline.rules.reference import entry_in_force
from pipeline.rules.state import YearCounters
from schemas.models import Enterprise, NegativeListEntry, TransferLog
from schemas.types import RequiredPath

COUNTED_PATHS: frozenset[RequiredPath] = frozenset(
    {"security_assessment", "contract_or_certification", "exempt_small_volume"}
)
PROCEDURE_PATHS: frozenset[RequiredPath] = frozenset(
    {"security_assessment", "contract_or_certification"}
)
_STRICTNESS = {"contract_or_certification": 1, "security_assessment": 2}


@dataclass(frozen=True)
class ActiveItem:
    entry: NegativeListEntry
    count: int  # the item's yearly count, this transfer included


class PathDecision(NamedTuple):  # one per transfer: builds in half a frozen dataclass's time
    path: RequiredPath
    step: int  # the step of the procedure that decided (1-7)
    reason: str  # machine-readable basis, e.g. "important_data", "subjects_threshold"
    subjects_total: int  # S with this transfer, if counted
    sensitive_total: int  # Z with this transfer, if counted
    from_negative_list: bool = False
    active_items: tuple[ActiveItem, ...] = ()

    @property
    def counted(self) -> bool:
        return self.path in COUNTED_PATHS

    @property
    def needs_procedure(self) -> bool:
        return self.path in PROCEDURE_PATHS


def decide_path(
    log: TransferLog,
    enterprise: Enterprise,
    entries: list[NegativeListEntry],
    counters: YearCounters,
    config: RulesConfig,
) -> PathDecision:
    """Steps 1-7. `entries` are the list entries applying to the enterprise (any edition).

    Mutates `counters.category_sets` (the item counts include this transfer); yearly S and Z
    are booked separately by `apply_counts` once the path is known.
    """
    cats = log.categories
    s_total = counters.subjects + log.subjects
    z_total = counters.sensitive + log.sensitive_subjects

    def decision(
        path: RequiredPath,
        step: int,
        reason: str,
        from_negative_list: bool = False,
        active_items: tuple[ActiveItem, ...] = (),
    ) -> PathDecision:
        counted = path in COUNTED_PATHS
        return PathDecision(
            path=path,
            step=step,
            reason=reason,
            subjects_total=s_total if counted else counters.subjects,
            sensitive_total=z_total if counted else counters.sensitive,
            from_negative_list=from_negative_list,
            active_items=active_items,
        )

    classes = cat.classes_of(cats)
    if classes.all_non_personal:
        return decision("exempt_non_personal", 1, "non_personal_or_transit")
    important = classes.important
    if log.purpose in config.exempt_purposes and not important:
        return decision("exempt_purpose", 2, f"purpose_{log.purpose}")

    key = classes.categories
    counters.category_sets[key] = (
        counters.category_sets.get(key, 0) + log.subjects + log.sensitive_subjects
    )
    personal = classes.personal
    if important:
        return decision("security_assessment", 3, "important_data")
    if enterprise.is_ciio and personal:
        return decision("security_assessment", 3, "ciio_personal_information")

    in_force = [e for e in entries if entry_in_force(e, log.ts)]
    if in_force and not enterprise.is_ciio:
        active = _active_items(in_force, cats, counters)
        if not active:
            return decision(
                "exempt_negative_list", 4, "not_on_negative_list", from_negative_list=True
            )
        strictest = max(active, key=lambda a: _STRICTNESS[a.entry.required_path])
        return decision(
            strictest.entry.required_path,
            4,
            "negative_list_item",
            from_negative_list=True,
            active_items=tuple(active),
        )

    t = config.thresholds
    sensitive = log.sensitive_subjects >= 1 or classes.sensitive  # `cat.carries_sensitive`
    if personal and s_total >= t.subjects_assessment:
        return decision("security_assessment", 5, "subjects_threshold")
    if sensitive and z_total >= t.sensitive_assessment:
        return decision("security_assessment", 5, "sensitive_threshold")
    if s_total >= t.subjects_contract:
        return decision("contract_or_certification", 6, "subjects_threshold")
    if log.sensitive_subjects >= t.sensitive_contract:
        return decision("contract_or_certification", 6, "sensitive_information")
    return decision("exempt_small_volume", 7, "small_volume")


def _active_items(
    entries: list[NegativeListEntry], cats: list[str], counters: YearCounters
) -> list[ActiveItem]:
    active: list[ActiveItem] = []
    for entry in entries:
        if not any(cat.matches_any(entry.categories, c) for c in cats):
            continue
        count = counters.item_count(entry.categories)
        if entry.min_subjects is None or count >= entry.min_subjects:
            active.append(ActiveItem(entry=entry, count=count))
    return sorted(active, key=lambda a: (a.entry.list_id, a.entry.item_id))


def apply_counts(
    decision: PathDecision, log: TransferLog, counters: YearCounters, config: RulesConfig
) -> list[tuple[str, int]]:
    """Book a counted transfer into S and Z; return the (measure, threshold) pairs it reached.

    A threshold is reached by the transfer that takes a total from below it to at or above it.
    """
    if not decision.counted:
        return []
    t = config.thresholds
    before = {"subjects": counters.subjects, "sensitive_subjects": counters.sensitive}
    counters.subjects += log.subjects
    counters.sensitive += log.sensitive_subjects
    after = {"subjects": counters.subjects, "sensitive_subjects": counters.sensitive}
    watched = [
        ("subjects", t.subjects_contract),
        ("subjects", t.subjects_assessment),
        ("sensitive_subjects", t.sensitive_assessment),
    ]
    return [(m, value) for m, value in watched if before[m] < value <= after[m]]
