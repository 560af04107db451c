"""Reconciliation of declared and observed egress per enterprise, country and window."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache

from pipeline.config import RulesConfig
from pipeline.rules.categories import covered, matches_any
from pipeline.rules.findings import EvaluatedFinding, make_finding
from pipeline.rules.state import WindowAggregate
from schemas.types import format_datetime


def undeclared(aggregate: WindowAggregate, config: RulesConfig) -> bool:
    """observed > ratio x declared + slack, in exact arithmetic (the boundary is no finding)."""
    rec = config.reconciliation
    ratio = _exact(rec.tolerance_ratio)  # p/q; compared multiplied through by q > 0
    q = ratio.denominator
    observed, declared = aggregate.observed_bytes, aggregate.declared_bytes
    return observed * q > ratio.numerator * declared + rec.tolerance_bytes * q


@lru_cache(maxsize=64)
def _exact(value: float) -> Fraction:
    """The decimal the configuration wrote (1.1 is 11/10, not the binary float)."""
    return Fraction(str(value))


def undeclared_dlp(aggregate: WindowAggregate, config: RulesConfig) -> list[str]:
    """Watched DLP categories seen on the wire that no log of the window declares."""
    watched = config.reconciliation.dlp_categories
    return sorted(
        c
        for c in aggregate.observed_dlp
        if matches_any(watched, c) and not covered(aggregate.declared_categories, c)
    )


def evaluate_window(
    enterprise_id: str,
    country: str,
    start: datetime,
    aggregate: WindowAggregate,
    config: RulesConfig,
) -> list[EvaluatedFinding]:
    """The findings of a closed window."""
    over = undeclared(aggregate, config)
    missing = undeclared_dlp(aggregate, config)
    if not over and not missing:  # most windows: no evidence to build
        return []
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
    if over:
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
