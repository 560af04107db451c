"""The credit and risk model: every score is a sum of named, reasoned contributions.

Pure: no I/O and no clock; `now` and the destination-country risk table are passed in.
Credit starts from `credit.base`; indicators subtract (findings, unresolved, coverage,
late_declaration) or add (certification, clean_period). Risk starts from 0 and every indicator
adds. An indicator contributes weight x min(1, measure / full_at) points, rounded to the cent.
When a total leaves [0, 100] an explicit `clamp` contribution brings it back, so the
contributions of a score always add up exactly (in decimal) to the score reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from pipeline.scoring.config import (
    CREDIT_BONUSES,
    SEVERITIES,
    CreditIndicator,
    RiskIndicator,
    ScoringConfig,
    Tier,
)
from pipeline.scoring.tiers import tier_of
from schemas.models import Enterprise, Finding
from schemas.types import Count, RuleId, Severity, UtcDatetime

ScoreName = Literal["credit", "risk"]

_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_DAY = timedelta(days=1)


class CountryScores(Protocol):
    """What the model needs of the country risk table (`CountryRiskTable` satisfies it)."""

    def score(self, country: str) -> int: ...


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingRecord(_Frozen):
    """A finding as the model sees it: what, how severe, when, and whether it was resolved."""

    rule_id: RuleId
    severity: Severity
    ts: UtcDatetime
    resolved: StrictBool = False

    @classmethod
    def from_finding(cls, finding: Finding, *, resolved: bool = False) -> FindingRecord:
        return cls(
            rule_id=finding.rule_id, severity=finding.severity, ts=finding.ts, resolved=resolved
        )


class ScoringInputs(_Frozen):
    """What the indicators need about one enterprise; the caller gathers it (no I/O here).

    Yearly figures are for the current calendar year. `bytes_by_country` lists every
    destination exported to (its keys) with the bytes sent; `covered_destinations` are those a
    valid filing covers (or that need none).
    """

    enterprise_id: str | None = None
    is_ciio: StrictBool = False
    findings: tuple[FindingRecord, ...] = ()
    valid_filings: Count = 0
    has_certification: StrictBool = False
    covered_destinations: frozenset[str] = frozenset()
    logs: Count = 0
    late_logs: Count = 0
    subjects: Count = 0
    sensitive_subjects: Count = 0
    important_transfers: Count = 0
    bytes_by_country: dict[str, Count] = Field(default_factory=dict)
    declared_bytes: Count = 0
    observed_bytes: Count = 0
    monitored_since: UtcDatetime | None = None

    @model_validator(mode="after")
    def _late_within_logs(self) -> ScoringInputs:
        if self.late_logs > self.logs:
            raise ValueError("late_logs exceeds logs")
        return self

    @classmethod
    def for_enterprise(cls, enterprise: Enterprise, **fields: object) -> ScoringInputs:
        """Inputs for `enterprise` (its id and CIIO flag) plus the other fields given."""
        return cls.model_validate(
            {"enterprise_id": enterprise.enterprise_id, "is_ciio": enterprise.is_ciio, **fields}
        )


class Contribution(_Frozen):
    """One named indicator's points towards the credit or the risk score, and why."""

    indicator: str
    score: ScoreName
    points: float
    reason: str


def _exact(value: float) -> Decimal:
    return Decimal(repr(value))


class Score(_Frozen):
    """Credit and risk (0-100), the tier, and every contribution behind them."""

    credit: float = Field(ge=0, le=100)
    risk: float = Field(ge=0, le=100)
    tier: Tier
    contributions: tuple[Contribution, ...]
    config_version: str

    @model_validator(mode="after")
    def _contributions_add_up(self) -> Score:
        for name, value in (("credit", self.credit), ("risk", self.risk)):
            total = sum((_exact(c.points) for c in self.contributions if c.score == name), _ZERO)
            if total != _exact(value):
                raise ValueError(f"{name} contributions add up to {total}, not {value}")
        return self

    def of(self, name: ScoreName) -> tuple[Contribution, ...]:
        return tuple(c for c in self.contributions if c.score == name)

    def explain(self) -> list[str]:
        """One line per contribution, credit first: `credit  findings  -12.50  reason`."""
        return [
            f"{c.score:6} {c.indicator:18} {c.points:+8.2f}  {c.reason}" for c in self.contributions
        ]


def decay_factor(age: timedelta, half_life_days: float) -> float:
    """Weight of a finding `age` old: 1 when new, 1/2 after one half-life, and so on."""
    return float(0.5 ** ((age / _DAY) / half_life_days))


def _cents(value: float) -> Decimal:
    rounded = Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    return rounded if rounded else _ZERO  # no negative zero


def _scaled(weight: float, full_at: float, measure: float) -> tuple[Decimal, float]:
    level = min(1.0, max(0.0, measure) / full_at)
    return _cents(weight * level), level


_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _num(value: float) -> str:
    """A parameter as a reader expects it: 1,000,000 and 0.5, not 1e+06."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _credit(
    inputs: ScoringInputs, now: datetime, config: ScoringConfig, past: list[FindingRecord]
) -> list[tuple[str, Decimal, str]]:
    params = config.findings
    points = params.severity_points
    measures: dict[CreditIndicator, tuple[float, str]] = {}

    decayed = sum(
        points[f.severity] * decay_factor(now - f.ts, params.half_life_days) for f in past
    )
    measures["findings"] = (
        decayed,
        f"{decayed:.2f} severity points after decay (half-life "
        f"{_num(params.half_life_days)} days) from {_plural(len(past), 'finding')} to date",
    )
    open_ = [f for f in past if not f.resolved]
    unresolved = sum(points[f.severity] for f in open_)
    measures["unresolved"] = (
        unresolved,
        f"{unresolved:g} severity points from {_plural(len(open_), 'unresolved finding')}",
    )
    destinations = set(inputs.bytes_by_country)
    uncovered = sorted(destinations - inputs.covered_destinations)
    share = len(uncovered) / len(destinations) if destinations else 0.0
    measures["coverage"] = (
        share,
        f"{len(uncovered)} of {len(destinations)} destination countries not covered by any of "
        f"{_plural(inputs.valid_filings, 'valid filing')}"
        + (f" ({', '.join(uncovered)})" if uncovered else ""),
    )
    late = inputs.late_logs / inputs.logs if inputs.logs else 0.0
    measures["late_declaration"] = (
        late,
        f"{inputs.late_logs} of {_plural(inputs.logs, 'transfer log')} this year declared late",
    )
    measures["certification"] = (
        1.0 if inputs.has_certification else 0.0,
        "holds a valid personal-information protection certification"
        if inputs.has_certification
        else "no valid personal-information protection certification",
    )
    floor = _RANK[params.clean_min_severity]
    counted = [f.ts for f in past if _RANK[f.severity] >= floor]
    starts = [*counted, *([inputs.monitored_since] if inputs.monitored_since else [])]
    clean_full = config.credit.indicator("clean_period").full_at
    if starts:
        clean_days = max(0.0, (now - max(starts)) / _DAY)
        since = "last finding" if counted and max(counted) >= max(starts) else "monitoring began"
        clean_reason = f"{clean_days:.0f} days clean since the {since}"
    else:
        clean_days = clean_full
        clean_reason = "no finding on record"
    measures["clean_period"] = (clean_days, clean_reason)

    rows: list[tuple[str, Decimal, str]] = [
        ("base", _cents(config.credit.base), "starting credit of every enterprise")
    ]
    for indicator in config.credit.indicators:
        measure, reason = measures[indicator.name]
        magnitude, _ = _scaled(indicator.weight, indicator.full_at, measure)
        sign = 1 if indicator.name in CREDIT_BONUSES else -1
        rows.append(
            (
                indicator.name,
                sign * magnitude if magnitude else _ZERO,
                f"{reason}; full {'bonus' if sign > 0 else 'deduction'} of "
                f"{_num(indicator.weight)} at {_num(indicator.full_at)}",
            )
        )
    return rows


def _risk(
    inputs: ScoringInputs,
    now: datetime,
    config: ScoringConfig,
    past: list[FindingRecord],
    countries: CountryScores,
) -> list[tuple[str, Decimal, str]]:
    measures: dict[RiskIndicator, tuple[float, str]] = {}
    measures["important_data"] = (
        inputs.important_transfers,
        f"{_plural(inputs.important_transfers, 'transfer')} with important data this year",
    )
    measures["sensitive_pi"] = (
        inputs.sensitive_subjects,
        f"{inputs.sensitive_subjects:,} individuals' sensitive personal information exported "
        "this year",
    )
    measures["scale"] = (
        inputs.subjects,
        f"{inputs.subjects:,} individuals' personal information exported this year",
    )
    total = sum(inputs.bytes_by_country.values())
    if total:
        scores = {cc: countries.score(cc) for cc in inputs.bytes_by_country}
        mean = sum(b * scores[cc] for cc, b in inputs.bytes_by_country.items()) / total
        worst = max(
            sorted(c for c, b in inputs.bytes_by_country.items() if b), key=lambda cc: scores[cc]
        )
        dest_reason = (
            f"byte-weighted destination risk {mean:.1f} over "
            f"{_plural(len(scores), 'country', 'countries')} (riskiest: {worst} {scores[worst]})"
        )
    else:
        mean, dest_reason = 0.0, "no bytes exported this year"
    measures["destination_risk"] = (mean, dest_reason)
    observed, declared = inputs.observed_bytes, inputs.declared_bytes
    undeclared = max(0, observed - declared) / observed if observed else 0.0
    measures["undeclared_egress"] = (
        undeclared,
        f"{undeclared:.1%} of {observed:,} observed bytes undeclared ({declared:,} declared)",
    )
    measures["ciio"] = (
        1.0 if inputs.is_ciio else 0.0,
        "critical information infrastructure operator" if inputs.is_ciio else "not a CIIO",
    )
    window = config.findings.recent_critical_days
    horizon = timedelta(days=window)
    recent = sum(1 for f in past if f.severity == "critical" and now - f.ts <= horizon)
    measures["recent_critical"] = (
        recent,
        f"{_plural(recent, 'critical finding')} in the last {window} days",
    )
    rows: list[tuple[str, Decimal, str]] = []
    for indicator in config.risk.indicators:
        measure, reason = measures[indicator.name]
        points, _ = _scaled(indicator.weight, indicator.full_at, measure)
        rows.append(
            (
                indicator.name,
                points,
                f"{reason}; full weight {_num(indicator.weight)} at {_num(indicator.full_at)}",
            )
        )
    return rows


def _settle(
    name: ScoreName, rows: Iterable[tuple[str, Decimal, str]]
) -> tuple[float, list[Contribution]]:
    listed = list(rows)
    raw = sum((points for _, points, _ in listed), _ZERO)
    clamped = min(max(raw, _ZERO), _HUNDRED)
    if clamped != raw:
        listed.append(("clamp", clamped - raw, f"{name} held to [0, 100] from {raw}"))
    contributions = [
        Contribution(indicator=indicator, score=name, points=float(points), reason=reason)
        for indicator, points, reason in listed
    ]
    return float(clamped), contributions


def score(
    inputs: ScoringInputs, now: datetime, config: ScoringConfig, countries: CountryScores
) -> Score:
    """Credit, risk and tier of one enterprise at `now` (timezone-aware).

    Findings dated after `now` are ignored, so a history can be scored as of any moment.
    `countries` gives each destination's risk (0-100), e.g. `load_country_risk()`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    past = [f for f in inputs.findings if f.ts <= now]
    credit, credit_parts = _settle("credit", _credit(inputs, now, config, past))
    risk, risk_parts = _settle("risk", _risk(inputs, now, config, past, countries))
    return Score(
        credit=credit,
        risk=risk,
        tier=tier_of(credit, risk, config),
        contributions=(*credit_parts, *risk_parts),
        config_version=config.version,
    )


__all__ = [
    "Contribution",
    "CountryScores",
    "FindingRecord",
    "Score",
    "ScoreName",
    "ScoringInputs",
    "decay_factor",
    "score",
]
