"""What one worker process holds, framework-free: engine, reference index, store, processors.

The Faust layer (`agents/`) creates one `WorkerContext` and hands it raw messages; nothing
here imports faust, so the same context runs under tests without a broker.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from operator import itemgetter

import orjson

from pipeline import metrics
from pipeline.config import RulesConfig, default_rules_config, load_rules_config
from pipeline.fast_decode import FlowFacts, facts_of, fast_flows
from pipeline.flow_aggregates import EnterpriseFlows, aggregate_flows
from pipeline.geo import GeoResolver
from pipeline.reference_files import load_country_risk
from pipeline.reference_stream import apply_reference
from pipeline.rules.engine import Engine
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import EnterpriseState
from pipeline.scoring.config import default_scoring_config
from pipeline.settings import Settings
from pipeline.stream_batch import (
    BatchOutput,
    DeadLetter,
    Message,
    StateLoader,
    TransferBatchProcessor,
    partition_of,
)
from pipeline.supervision import Supervisor
from pipeline.topics import (
    EGRESS_FLOWS,
    FLOW_AGGREGATES,
    REFERENCE_ENTERPRISES,
    REFERENCE_FILINGS,
    TRANSFER_LOGS,
)
from pipeline.wire import MAX_RECORD_BYTES, Rejected, decode_batch
from schemas.models import EgressFlow

log = logging.getLogger(__name__)

SCORED_REFERENCE_TOPICS = frozenset({REFERENCE_ENTERPRISES.name, REFERENCE_FILINGS.name})


def _enterprise_of(topic: str, key: bytes, value: bytes) -> str:
    """The enterprise a changed enterprise or filing record concerns."""
    if topic == REFERENCE_ENTERPRISES.name:
        return key.decode()
    return str(orjson.loads(value)["enterprise_id"])


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class WorkerContext:
    """Engine and indexes of one worker; the agents call in with raw messages."""

    def __init__(
        self,
        settings: Settings,
        config: RulesConfig | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.config = config or (
            load_rules_config(settings.rules_path)
            if settings.rules_path
            else default_rules_config()
        )
        self.clock = clock
        self.reference = ReferenceIndex()
        self.engine = Engine(self.reference, self.config, GeoResolver().country)
        self.supervisor = Supervisor(
            self.engine,
            default_scoring_config(),
            load_country_risk(),
            timedelta(seconds=settings.score_min_interval_s),
        )
        self.dirty: set[str] = set()  # enterprises whose reference data changed: re-score
        # alert id -> (its JSON when read, (severity, tier)): the open-alert gauges re-read
        # only the alerts bumped since (parsing all ~14k after the bench's backlogs held the
        # event loop ~25 ms every 5 s).
        self._alert_labels: dict[str, tuple[str, tuple[str, str]]] = {}
        self._load_state: StateLoader = lambda _: None
        self.transfers = TransferBatchProcessor(
            self.engine,
            TRANSFER_LOGS.name,
            FLOW_AGGREGATES.name,
            self._state,
            EGRESS_FLOWS.name,
            settings.kafka.partitions,
            data_advances_watermark=settings.windows_close == "event_time",
        )

    def _state(self, enterprise_id: str) -> EnterpriseState | None:
        return self._load_state(enterprise_id)

    def use_state_loader(self, loader: StateLoader) -> None:
        """Where cache misses of enterprise state are read from (the changelog-backed table)."""
        self._load_state = loader

    def forget_partitions(self, partitions: set[int]) -> None:
        """Drop cached state of the enterprises of revoked partitions (reloaded on demand)."""
        count = self.settings.kafka.partitions
        for enterprise_id in [
            e for e in self.engine.states if partition_of(e, count) in partitions
        ]:
            del self.engine.states[enterprise_id]

    # --- reference data ------------------------------------------------------------------
    def apply_reference(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Apply one reference record; a bad one is logged and counted, never raised."""
        if key is None:
            log.warning("reference record without key on %s ignored", topic)
            return
        try:
            apply_reference(self.reference, topic, key, value)
        except (ValueError, TypeError) as exc:
            log.warning("invalid reference record on %s (%r): %s", topic, key, exc)
            metrics.DEADLETTERS.labels(topic, "schema").inc()
            return
        metrics.REFERENCE_UPDATES.labels(topic).inc()
        if topic in SCORED_REFERENCE_TOPICS and value is not None:
            self.dirty.add(_enterprise_of(topic, key, value))
        for kind, count in self.reference.counts().items():
            metrics.REFERENCE_RECORDS.labels(kind).set(count)

    # --- flows -----------------------------------------------------------------------------
    def process_flows(
        self, messages: list[Message]
    ) -> tuple[dict[str, EnterpriseFlows], list[DeadLetter]]:
        """Decode, attribute and pre-aggregate a batch of probe flows."""
        flows: list[tuple[FlowFacts, tuple[int, int]]] = []
        dead: list[DeadLetter] = []
        for message in messages:
            source = (message.partition, message.offset)
            fast = fast_flows(message.value, MAX_RECORD_BYTES)
            if fast is not None:
                flows.extend((facts, source) for facts in fast)
                metrics.EVENTS.labels(message.topic, "evaluated").inc(len(fast))
                continue
            decoded = decode_batch(message.value, EgressFlow)
            flows.extend((facts_of(flow), source) for flow in decoded.records)
            dead.extend(DeadLetter(r, message) for r in decoded.rejected)
            metrics.EVENTS.labels(message.topic, "evaluated").inc(len(decoded.records))
            metrics.EVENTS.labels(message.topic, "invalid").inc(len(decoded.rejected))
        by_enterprise, outcomes = aggregate_flows(self.engine, flows)
        for outcome, count in outcomes.items():
            metrics.FLOWS.labels(outcome).inc(count)
        return by_enterprise, dead

    # --- transfers and windows -------------------------------------------------------------
    def process_transfers(self, messages: list[Message]) -> BatchOutput:
        out = self.transfers.process(messages)
        out.scores, out.alerts = self.supervisor.after_batch(
            [t.log for t in out.transfers if t.decision is not None],
            out.windows,
            [f.finding for f in out.findings],
            out.touched,
            self.clock(),
            out.resolutions,
        )
        self._count_supervision(out)
        for (topic, outcome), count in out.counts.items():
            metrics.EVENTS.labels(topic, outcome).inc(count)
        for item in out.findings:
            metrics.FINDINGS.labels(item.finding.rule_id, item.finding.severity).inc()
        if self.transfers.watermark is not None:
            metrics.WATERMARK.set(self.transfers.watermark.timestamp())
        return out

    def rescore(self, enterprise_ids: Iterable[str], trigger: str) -> BatchOutput:
        """Re-score enterprises outside a batch (a filing changed, the daily decay)."""
        out = BatchOutput()
        now = self.clock()
        for enterprise_id in sorted(enterprise_ids):
            out.scores.append(self.supervisor.rescore(enterprise_id, now, trigger))
            out.touched.add(enterprise_id)
        self._count_supervision(out)
        return out

    def _count_supervision(self, out: BatchOutput) -> None:
        for alert in out.alerts:
            metrics.ALERTS_RAISED.labels(alert.severity, alert.tier, alert.rule_id).inc()
        for event in out.scores:
            if event.tier_changed:
                metrics.TIER_CHANGES.labels(event.previous_tier, event.score.tier).inc()

    def update_gauges(self, owned: Callable[[str], bool]) -> None:
        """Open windows; tier and open-alert gauges of the enterprises this worker owns."""
        tiers: Counter[str] = Counter()
        labels: dict[str, tuple[str, tuple[str, str]]] = {}
        metrics.OPEN_WINDOWS.set(sum(len(s.windows) for s in self.engine.states.values()))
        for enterprise_id, state in self.engine.states.items():
            if not owned(enterprise_id) or state.profile.score is None:
                continue
            tiers[str(state.profile.score["tier"])] += 1
            for alert_id, raw in state.profile.alerts.items():
                known = self._alert_labels.get(alert_id)
                if known is None or known[0] is not raw:  # a bump replaces the JSON
                    alert = orjson.loads(raw)  # our own JSON; two fields are all a gauge needs
                    known = (raw, (str(alert["severity"]), str(alert["tier"])))
                labels[alert_id] = known
        self._alert_labels = labels  # the alerts pruned since: forgotten
        open_alerts = Counter(map(itemgetter(1), labels.values()))
        for tier in ("A", "B", "C", "D"):
            metrics.ENTERPRISES.labels(tier).set(tiers[tier])
            for severity in ("info", "low", "medium", "high", "critical"):
                metrics.ALERTS_OPEN.labels(severity, tier).set(open_alerts[(severity, tier)])

    def count_deadletters(self, dead: list[DeadLetter]) -> None:
        for letter in dead:
            metrics.DEADLETTERS.labels(
                letter.source.topic, metrics.reason_kind(letter.rejected.reason)
            ).inc()


__all__ = ["DeadLetter", "Message", "Rejected", "WorkerContext", "utc_now"]
