"""Filings: validity at a time, scope coverage, quota, and the verdict for one transfer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from pipeline.rules.categories import matches_any
from pipeline.rules.state import YearCounters
from pipeline.rules.years import add_calendar_years
from schemas.models import Filing, TransferLog
from schemas.types import RequiredProcedure, RuleId

SCOPE_RULES: dict[str, RuleId] = {
    "recipient": "XB-SCOPE-RECIPIENT",
    "country": "XB-SCOPE-COUNTRY",
    "category": "XB-SCOPE-CATEGORY",
    "purpose": "XB-SCOPE-PURPOSE",
}
_STRENGTH = {"security_assessment": 2, "standard_contract": 1, "certification": 1}


def satisfies(kind: str, path: RequiredProcedure) -> bool:
    """An assessment satisfies both paths; a contract or certification only the weaker one."""
    return kind == "security_assessment" or path == "contract_or_certification"


def validity_end(filing: Filing, zone: ZoneInfo, assessment_years: int) -> datetime | None:
    """`valid_until`, or for an assessment without one, `assessment_years` after approval."""
    if filing.valid_until is not None:
        return filing.valid_until
    if filing.kind == "security_assessment":
        return add_calendar_years(filing.valid_from, assessment_years, zone)
    return None


def revoked_by(filing: Filing, ts: datetime) -> bool:
    """Revoked from `revoked_at` on whatever `status` says; `revoked` without a date: always."""
    if filing.revoked_at is not None:
        return filing.revoked_at <= ts
    return filing.status == "revoked"


def is_valid(filing: Filing, ts: datetime, end: datetime | None) -> bool:
    if filing.status == "pending" or revoked_by(filing, ts):
        return False
    return filing.valid_from <= ts and (end is None or ts <= end)


class Scoped(Protocol):
    """What scope is judged on: a transfer log, or anything shaped like one."""

    @property
    def recipient(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def purpose(self) -> str: ...


def scope_failures(filing: Filing, log: Scoped) -> list[str]:
    """The scope points (recipient, country, category, purpose) the filing does not cover."""
    failed: list[str] = []
    if filing.recipients and log.recipient not in filing.recipients:
        failed.append("recipient")
    if filing.countries and log.country not in filing.countries:
        failed.append("country")
    if filing.categories and not all(matches_any(filing.categories, c) for c in log.categories):
        failed.append("category")
    if filing.purposes and log.purpose not in filing.purposes:
        failed.append("purpose")
    return failed


def strongest(filings: list[Filing]) -> Filing:
    """The strongest kind, then the smallest `filing_id`."""
    return min(filings, key=lambda f: (-_STRENGTH[f.kind], f.filing_id))


@dataclass(frozen=True)
class FilingVerdict:
    """What the filings say about a transfer whose path needs a procedure."""

    rules: tuple[RuleId, ...]  # empty: compliant
    examined: tuple[Filing, ...]  # filings the verdict rests on
    covering: Filing | None = None  # compliant: the covering filing
    charged: Filing | None = None  # the filing whose quota the transfer is booked to
    scope_failed: tuple[str, ...] = ()
    end: datetime | None = None  # validity end of the covering filing


def judge_filings(
    log: TransferLog,
    path: RequiredProcedure,
    held: list[Filing],
    counters: YearCounters,
    zone: ZoneInfo,
    assessment_years: int,
    from_negative_list: bool,
) -> FilingVerdict:
    """Apply the "Filings" section of the contract to one transfer.

    `held` are the enterprise's filings ordered by id. Books the transfer's subjects to the
    covering (or over-quota) filing's yearly use in `counters.filing_used`.
    """
    missing: RuleId = "XB-NEGLIST-HIT" if from_negative_list else "XB-PATH-MISSING"
    insufficient: RuleId = "XB-NEGLIST-HIT" if from_negative_list else "XB-PATH-INSUFFICIENT"
    non_pending = [f for f in held if f.status != "pending"]
    candidates = [f for f in non_pending if satisfies(f.kind, path)]
    if not candidates:
        weaker = [f for f in non_pending if not satisfies(f.kind, path)]
        return FilingVerdict(rules=(insufficient if weaker else missing,), examined=tuple(weaker))

    ends = {f.filing_id: validity_end(f, zone, assessment_years) for f in candidates}
    valid = [f for f in candidates if is_valid(f, log.ts, ends[f.filing_id])]
    if not valid:
        revoked = [f for f in candidates if revoked_by(f, log.ts)]
        if revoked:
            return FilingVerdict(rules=("XB-FILING-REVOKED",), examined=tuple(revoked))
        expired = [f for f in candidates if (end := ends[f.filing_id]) is not None and end < log.ts]
        if expired:
            return FilingVerdict(rules=("XB-FILING-EXPIRED",), examined=tuple(expired))
        return FilingVerdict(rules=(missing,), examined=tuple(candidates))

    failures = {f.filing_id: scope_failures(f, log) for f in valid}
    in_scope = [f for f in valid if not failures[f.filing_id]]
    if not in_scope:
        closest = min(valid, key=lambda f: (len(failures[f.filing_id]), f.filing_id))
        failed = failures[closest.filing_id]
        return FilingVerdict(
            rules=tuple(SCOPE_RULES[p] for p in failed),
            examined=(closest,),
            scope_failed=tuple(failed),
        )

    amount = log.subjects + log.sensitive_subjects
    used = counters.filing_used
    within = [
        f
        for f in in_scope
        if f.max_subjects is None or used.get(f.filing_id, 0) + amount <= f.max_subjects
    ]
    if within:
        covering = strongest(within)
        used[covering.filing_id] = used.get(covering.filing_id, 0) + amount
        return FilingVerdict(
            rules=(),
            examined=(covering,),
            covering=covering,
            charged=covering,
            end=ends[covering.filing_id],
        )
    over = strongest(in_scope)
    used[over.filing_id] = used.get(over.filing_id, 0) + amount
    return FilingVerdict(rules=("XB-VOLUME-EXCEEDED",), examined=(over,), charged=over)
