"""Tiers A-D from credit and risk, and what each tier means for supervision and alerting.

A needs credit >= A.min_credit and risk < A.max_risk, B and C likewise with their cut-offs;
D is everything else (credit below C.min_credit or risk at or above C.max_risk). The tier is
therefore the worse of the credit tier and the risk tier.
"""

from __future__ import annotations

from pipeline.scoring.config import AlertAction, CutOff, ScoringConfig, Tier, TierPolicy
from schemas.types import Severity


def tier_of(credit: float, risk: float, config: ScoringConfig) -> Tier:
    """The best tier whose cut-offs the scores meet (credit inclusive, risk exclusive)."""
    cutoffs = config.tiers
    ladder: tuple[tuple[Tier, CutOff], ...] = (("A", cutoffs.A), ("B", cutoffs.B), ("C", cutoffs.C))
    for tier, cut in ladder:
        if credit >= cut.min_credit and risk < cut.max_risk:
            return tier
    return "D"


def policy(tier: Tier, config: ScoringConfig) -> TierPolicy:
    """Spot-check ratio, spot-check frequency in months and alert policy of a tier."""
    return config.policies.of(tier)


def alert_for(finding_severity: Severity, tier: Tier, config: ScoringConfig) -> AlertAction:
    """(alert severity, route) for a finding of `finding_severity` at an enterprise of `tier`.

    Route is "page", "ticket" or "none".
    """
    return config.policies.of(tier).alerts[finding_severity]


__all__ = ["TierPolicy", "alert_for", "policy", "tier_of"]
