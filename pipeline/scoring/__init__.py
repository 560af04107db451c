"""Credit and risk scoring: pure, explainable, parameterised by versioned YAML."""

from pipeline.scoring.config import ScoringConfig, default_scoring_config, load_scoring_config
from pipeline.scoring.model import (
    Contribution,
    FindingRecord,
    Score,
    ScoringInputs,
    decay_factor,
    score,
)
from pipeline.scoring.tiers import TierPolicy, alert_for, policy, tier_of

__all__ = [
    "Contribution",
    "FindingRecord",
    "Score",
    "ScoringConfig",
    "ScoringInputs",
    "TierPolicy",
    "alert_for",
    "decay_factor",
    "default_scoring_config",
    "load_scoring_config",
    "policy",
    "score",
    "tier_of",
]
