"""Reconciliation of declared and observed egress per enterprise, country and window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from pipeline.config import RulesConfig
from pipeline.rules.categories import covered, matches_any
from pipeline.rules.findings import EvaluatedFinding, make_finding
from schemas.types import format_datetime

WindowKey = tuple[str, str, datetime]  # enterprise_id, country, window start (UTC)


@dataclass
class WindowAggregate:
    """What was declared and what was seen for one enterprise, country and window."""

    declared_bytes: int = 0
    declared_logs: int = 0
    declared_categories: set[str] = field(default_factory=set)
    observed_bytes: int = 0
    observed_flows: int = 0
    observed_dlp: set[str] = field(default_factory=set)

    def declare(self, nbytes: int, categories: list[str]) -> None:
        self.declared_bytes += nbytes
        self.declared_logs += 1
        self.declared_categories.update(categories)

    def observe(self, nbytes: int, dlp_categories: list[str]) -> None:
        self.observed_bytes += nbytes
        self.observed_flows += 1
        self.observed_dlp.update(dlp_categories)

    def merge(self, other: WindowAggregate) -> None:
        self.declared_bytes += other.declared_bytes
        self.declared_logs += other.declared_logs
        self.declared_categories |= other.declared_categories
        self.observed_bytes += other.observed_bytes
        self.observed_flows += other.observed_flows
        self.observed_dlp |= other.observed_dlp

    def as_evidence(self) -> dict[str, object]:
        return {
            "declared_bytes": self.declared_bytes,
            "declared_logs": self.declared_logs,
            "declared_categories": sorted(self.declared_categories),
            "observed_bytes": self.observed_bytes,
            "observed_flows": self.observed_flows,
            "observed_dlp_categories": sorted(self.observed_dlp),
        }


def undeclared(aggregate: WindowAggregate, config: RulesConfig) -> bool:
    """observed > ratio x declared + slack, in exact arithmetic (the boundary is no finding)."""
    rec = config.reconciliation
    limit = Fraction(str(rec.tolerance_ratio)) * aggregate.declared_bytes + rec.tolerance_bytes
    return aggregate.observed_bytes > limit


def undeclared_dlp(aggregate: WindowAggregate, config: RulesConfig) -> list[str]:
    """Watched DLP categories seen on the wire that no log of the window declares."""
    watched = config.reconciliation.dlp_categories
    return sorted(
        c
        for c in aggregate.observed_dlp
        if matches_any(watched, c) and not covered(aggregate.declared_categories, c)
    )


def evaluate_window(
    key: WindowKey, aggregate: WindowAggregate, config: RulesConfig
) -> list[EvaluatedFinding]:
    """The findings of a closed window."""
    enterprise_id, country, start = key
    end = start + timedelta(minutes=config.reconciliation.window_minutes)
    about = (country, format_datetime(start))
    evidence = {
        "window": {
            "enterprise_id": enterprise_id,
            "country": country,
            "start": format_datetime(start),
            "end": format_datetime(end),
            **aggregate.as_evidence(),
        }
    }
    context = {"country": country, "window": format_datetime(start)}
    findings: list[EvaluatedFinding] = []
    if undeclared(aggregate, config):
        findings.append(
            make_finding(
                config,
                "XB-UNDECLARED-EGRESS",
                enterprise_id,
                about,
                start,
                context={
                    **context,
                    "observed": aggregate.observed_bytes,
                    "declared": aggregate.declared_bytes,
                },
                evidence=evidence,
            )
        )
    missing = undeclared_dlp(aggregate, config)
    if missing:
        findings.append(
            make_finding(
                config,
                "XB-DLP-MISMATCH",
                enterprise_id,
                about,
                start,
                context={**context, "categories": ", ".join(missing)},
                evidence={**evidence, "undeclared_categories": missing},
            )
        )
    return findings
