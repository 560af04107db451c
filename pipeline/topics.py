"""The Kafka topics of xbmon (../shared/DESIGN.md): names, partitioning, compaction.

Every input topic is keyed by `enterprise_id` (probes by `probe_id`), so per-enterprise state
lives in the partition that owns the enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False
    # None: the configured partition count; reference topics are read whole by every worker.
    partitions: int | None = None


EGRESS_FLOWS = TopicSpec("egress.flows")
FLOW_AGGREGATES = TopicSpec("egress.flows.attributed")  # flows re-keyed by enterprise_id
TRANSFER_LOGS = TopicSpec("transfer.logs")
REFERENCE_ENTERPRISES = TopicSpec("reference.enterprises", compacted=True, partitions=1)
REFERENCE_FILINGS = TopicSpec("reference.filings", compacted=True, partitions=1)
REFERENCE_NEGATIVE_LIST = TopicSpec("reference.negative_list", compacted=True, partitions=1)
FINDINGS = TopicSpec("findings")
DEADLETTER = TopicSpec("deadletter")
EVIDENCE_ROWS = TopicSpec("evidence.rows")  # rows for the store writer (the store's spool)
SCORES = TopicSpec("scores", compacted=True)  # latest credit, risk, tier per enterprise
TIER_CHANGES = TopicSpec("tier.changes")  # an event each time an enterprise changes tier
ALERTS = TopicSpec("alerts")  # alerts as raised (severity and route after the tier policy)
ALERT_ACTIONS = TopicSpec("alert.actions")  # responders' resolutions, back to the scoring

ALL_TOPICS: tuple[TopicSpec, ...] = (
    EGRESS_FLOWS,
    FLOW_AGGREGATES,
    TRANSFER_LOGS,
    REFERENCE_ENTERPRISES,
    REFERENCE_FILINGS,
    REFERENCE_NEGATIVE_LIST,
    FINDINGS,
    DEADLETTER,
    EVIDENCE_ROWS,
    SCORES,
    TIER_CHANGES,
    ALERTS,
    ALERT_ACTIONS,
)
