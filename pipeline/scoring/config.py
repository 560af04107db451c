"""Scoring parameters: one versioned YAML document, validated at load.

Indicator weights, the finding half-life, tier cut-offs and tier policies are data, so a change
of supervisory policy is a change of `scoring.yaml`, and every score names the version it used.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import load_yaml_model
from schemas.types import Severity

DEFAULT_SCORING_PATH = Path(__file__).parent.parent / "data" / "scoring.yaml"

Tier = Literal["A", "B", "C", "D"]
Route = Literal["page", "ticket", "none"]
CreditIndicator = Literal[
    "findings", "unresolved", "coverage", "late_declaration", "certification", "clean_period"
]
RiskIndicator = Literal[
    "important_data",
    "sensitive_pi",
    "scale",
    "destination_risk",
    "undeclared_egress",
    "ciio",
    "recent_critical",
]

TIERS: tuple[Tier, ...] = get_args(Tier)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
#: Credit indicators that add to the base; every other credit indicator subtracts.
CREDIT_BONUSES: frozenset[str] = frozenset({"certification", "clean_period"})


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingsParams(_Frozen):
    half_life_days: float = Field(90, gt=0)
    severity_points: dict[Severity, float]
    clean_min_severity: Severity = "low"
    recent_critical_days: int = Field(90, gt=0)

    @field_validator("severity_points")
    @classmethod
    def _every_severity(cls, value: dict[Severity, float]) -> dict[Severity, float]:
        missing = [s for s in SEVERITIES if s not in value]
        if missing:
            raise ValueError(f"severity_points has no value for {', '.join(missing)}")
        negative = sorted(s for s, points in value.items() if points < 0)
        if negative:
            raise ValueError(f"severity_points must be non-negative ({', '.join(negative)})")
        return value


class _Indicator(_Frozen):
    weight: float = Field(ge=0, description="points at full measure")
    full_at: float = Field(gt=0, description="measure at which the full weight applies")


class CreditIndicatorParams(_Indicator):
    name: CreditIndicator


class RiskIndicatorParams(_Indicator):
    name: RiskIndicator


def _named_once(names: list[str], expected: tuple[str, ...], section: str) -> None:
    repeated = sorted(n for n, k in Counter(names).items() if k > 1)
    if repeated:
        raise ValueError(f"{section}.indicators names {', '.join(repeated)} more than once")
    missing = [n for n in expected if n not in names]
    if missing:
        raise ValueError(f"{section}.indicators is missing {', '.join(missing)}")


class CreditParams(_Frozen):
    base: float = Field(85, ge=0, le=100)
    indicators: tuple[CreditIndicatorParams, ...]

    @model_validator(mode="after")
    def _each_once(self) -> CreditParams:
        _named_once([i.name for i in self.indicators], get_args(CreditIndicator), "credit")
        return self

    def indicator(self, name: CreditIndicator) -> CreditIndicatorParams:
        return next(i for i in self.indicators if i.name == name)


class RiskParams(_Frozen):
    indicators: tuple[RiskIndicatorParams, ...]

    @model_validator(mode="after")
    def _each_once(self) -> RiskParams:
        _named_once([i.name for i in self.indicators], get_args(RiskIndicator), "risk")
        return self

    def indicator(self, name: RiskIndicator) -> RiskIndicatorParams:
        return next(i for i in self.indicators if i.name == name)


class CutOff(_Frozen):
    """A tier needs credit >= min_credit and risk < max_risk."""

    min_credit: float = Field(gt=0, le=100)
    max_risk: float = Field(gt=0, le=100)


class CutOffs(_Frozen):
    """Cut-offs of A, B and C; D is every score that meets none of them."""

    A: CutOff
    B: CutOff
    C: CutOff

    @model_validator(mode="after")
    def _ordered(self) -> CutOffs:
        if not self.A.min_credit > self.B.min_credit > self.C.min_credit:
            raise ValueError("tiers: min_credit must decrease strictly from A to B to C")
        if not self.A.max_risk < self.B.max_risk < self.C.max_risk:
            raise ValueError("tiers: max_risk must increase strictly from A to B to C")
        return self


AlertAction = tuple[Severity, Route]


class TierPolicy(_Frozen):
    spot_check_ratio: float = Field(gt=0, le=1, description="share drawn per spot check")
    frequency_months: int = Field(gt=0, le=12, description="months between spot checks")
    alerts: dict[Severity, AlertAction]

    @field_validator("alerts")
    @classmethod
    def _every_severity(cls, value: dict[Severity, AlertAction]) -> dict[Severity, AlertAction]:
        missing = [s for s in SEVERITIES if s not in value]
        if missing:
            raise ValueError(f"alerts has no action for {', '.join(missing)}")
        return value


class Policies(_Frozen):
    A: TierPolicy
    B: TierPolicy
    C: TierPolicy
    D: TierPolicy

    @model_validator(mode="after")
    def _ordered(self) -> Policies:
        tiers = [self.A, self.B, self.C, self.D]
        for better, worse, name in zip(tiers, tiers[1:], "BCD", strict=False):
            if worse.spot_check_ratio < better.spot_check_ratio:
                raise ValueError(f"policies: spot_check_ratio of {name} is below the tier above")
            if worse.frequency_months > better.frequency_months:
                raise ValueError(f"policies: frequency_months of {name} exceeds the tier above")
        return self

    def of(self, tier: Tier) -> TierPolicy:
        policy: TierPolicy = getattr(self, tier)
        return policy


class ScoringConfig(_Frozen):
    """The parameters of the credit and risk model, with their version."""

    version: str = Field(min_length=1)
    findings: FindingsParams
    credit: CreditParams
    risk: RiskParams
    tiers: CutOffs
    policies: Policies


def load_scoring_config(path: Path | None = None) -> ScoringConfig:
    """Load and validate a scoring YAML file; the shipped defaults when no path is given."""
    return load_yaml_model(path or DEFAULT_SCORING_PATH, ScoringConfig)


@lru_cache(maxsize=1)
def default_scoring_config() -> ScoringConfig:
    return load_scoring_config()
