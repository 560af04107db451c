"""Rule parameters: one versioned YAML document, validated at load.

Every threshold, exemption, window and tolerance the engine uses comes from here, so a change
in law is a change of data, and each finding's evidence names the parameter version it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Self, TypeVar, get_args
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from schemas.types import Category, Purpose, RuleId, Severity

DEFAULT_RULES_PATH = Path(__file__).parent / "data" / "rules.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Frozen):
    subjects_contract: int = Field(100_000, gt=0)
    subjects_assessment: int = Field(1_000_000, gt=0)
    sensitive_assessment: int = Field(10_000, gt=0)
    sensitive_contract: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.subjects_contract >= self.subjects_assessment:
            raise ValueError("subjects_contract must be below subjects_assessment")
        return self


class Reconciliation(_Frozen):
    window_minutes: int = Field(60, gt=0, le=1440)
    tolerance_ratio: float = Field(1.2, ge=1.0)
    tolerance_bytes: int = Field(10_485_760, ge=0)
    dlp_categories: tuple[Category, ...] = ("pi.sensitive", "important")

    @field_validator("window_minutes")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if 1440 % value:
            raise ValueError("window_minutes must divide a day so windows align to the hour")
        return value


class RulesConfig(_Frozen):
    """The parameters of the decision procedure (spec/contracts.md), with its defaults."""

    version: str
    timezone: str = "Asia/Shanghai"
    thresholds: Thresholds = Thresholds()
    exempt_purposes: frozenset[Purpose] = frozenset(
        {"contract_performance", "hr_management", "emergency"}
    )
    assessment_validity_years: int = Field(3, gt=0)
    declaration_deadline_hours: float = Field(24, gt=0)
    expiring_notice_days: int = Field(30, ge=0)
    reconciliation: Reconciliation = Reconciliation()
    severities: dict[RuleId, Severity]

    @field_serializer("exempt_purposes")
    def _sorted_purposes(self, value: frozenset[str]) -> list[str]:
        return sorted(value)  # set order varies with PYTHONHASHSEED; evidence must not

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @field_validator("severities")
    @classmethod
    def _every_rule(cls, value: dict[RuleId, Severity]) -> dict[RuleId, Severity]:
        missing = sorted(set(get_args(RuleId)) - set(value))
        if missing:
            raise ValueError(f"no severity for {', '.join(missing)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose derived values are derived again (pydantic copies the cached ones:
        a copy with another deadline kept the old one, and the old `summary`)."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def declaration_deadline(self) -> timedelta:
        """`declaration_deadline_hours` as a duration (asked per transfer: built once)."""
        return timedelta(hours=self.declaration_deadline_hours)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The parameters as plain JSON data, for evidence bundles (computed once)."""
        return self.model_dump(mode="json")


# RulesConfig's cached properties, found rather than listed: a new one is dropped on copy too.
_DERIVED = tuple(n for n, v in vars(RulesConfig).items() if isinstance(v, cached_property))

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(source: Path, model: type[M]) -> M:
    """A YAML document validated as `model` (parameter files: rules, scoring)."""
    with source.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    return model.model_validate(data)


def load_rules_config(path: Path | None = None) -> RulesConfig:
    """Load and validate a rules YAML file; the shipped defaults when no path is given."""
    return load_yaml_model(path or DEFAULT_RULES_PATH, RulesConfig)


@lru_cache(maxsize=1)
def default_rules_config() -> RulesConfig:
    return load_rules_config()
