"""One batch of the transfer stream, framework-free: decode, evaluate, collect the outputs.

The Faust agent hands in raw messages and gets back what to send and write; everything in
between is here so it is tested without a broker, and so replay and stream share the engine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import orjson
from kafka.partitioner.default import murmur2

from pipeline.alerts import Alert
from pipeline.fast_decode import fast_logs
from pipeline.flow_aggregates import KIND_WATERMARK, AggregateMessage, decode_aggregates
from pipeline.rules.engine import ClosedWindow, Engine
from pipeline.rules.findings import EvaluatedFinding
from pipeline.rules.procedure import PathDecision
from pipeline.rules.state import EnterpriseState
from pipeline.supervision import ScoreEvent
from pipeline.topics import ALERT_ACTIONS
from pipeline.wire import MAX_RECORD_BYTES, Rejected, decode_batch
from schemas.models import TransferLog


@dataclass(frozen=True)
class Message:
    """A consumed Kafka message, as the agent saw it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class DeadLetter:
    rejected: Rejected
    source: Message


class EvaluatedTransfer(NamedTuple):  # one per transfer: cheaper than a frozen dataclass
    log: TransferLog
    decision: PathDecision | None  # None for a repeated transfer_id
    source: Message


@dataclass
class BatchOutput:
    findings: list[EvaluatedFinding] = field(default_factory=list)
    transfers: list[EvaluatedTransfer] = field(default_factory=list)
    windows: list[ClosedWindow] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # enterprises whose state changed
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, outcome)
    resolutions: list[tuple[str, list[str]]] = field(default_factory=list)  # enterprise, findings
    scores: list[ScoreEvent] = field(default_factory=list)  # filled by the supervisor
    alerts: list[Alert] = field(default_factory=list)


StateLoader = Callable[[str], EnterpriseState | None]


@lru_cache(maxsize=1 << 18)  # asked per enterprise per batch when windows close
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in the Java client) gives `key`."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class TransferBatchProcessor:
    """Evaluates transfer logs and reconciles flow aggregates, batch by batch."""

    def __init__(
        self,
        engine: Engine,
        logs_topic: str,
        aggregates_topic: str,
        load_state: StateLoader,
        flows_topic: str,
        partitions: int,
        data_advances_watermark: bool = True,
    ) -> None:
        self.engine = engine
        self.logs_topic = logs_topic
        self.aggregates_topic = aggregates_topic
        self.flows_topic = flows_topic  # the probe topic the aggregates' sources refer to
        self.load_state = load_state
        self.partitions = partitions
        # False: only watermark control records close windows (replay's "end of input").
        self.data_advances_watermark = data_advances_watermark
        # Event time per partition: a partition's windows close on its own progress, so a
        # partition that lags behind another never has its windows closed early.
        self.watermarks: dict[int, datetime] = {}

    def _ensure_loaded(self, enterprise_id: str) -> None:
        if enterprise_id not in self.engine.states:
            stored = self.load_state(enterprise_id)
            if stored is not None:
                self.engine.states[enterprise_id] = stored

    @property
    def watermark(self) -> datetime | None:
        """The slowest partition's event time (what is certainly complete)."""
        return min(self.watermarks.values()) if self.watermarks else None

    def _advance(self, partition: int, ts: datetime | None, advanced: set[int]) -> None:
        current = self.watermarks.get(partition)
        if ts is not None and (current is None or ts > current):
            self.watermarks[partition] = ts
            advanced.add(partition)

    def process(self, messages: Sequence[Message]) -> BatchOutput:
        out = BatchOutput()
        advanced: set[int] = set()
        for message in messages:
            if message.topic == self.aggregates_topic:
                self._aggregate(message, out, advanced)
            elif message.topic == ALERT_ACTIONS.name:
                self._action(message, out)
            else:
                self._logs(message, out, advanced)
        for partition in sorted(advanced):
            closed = self.engine.close_windows(
                self.watermarks[partition], self._in_partition(partition)
            )
            out.windows.extend(closed)
            for window in closed:
                out.findings.extend(window.findings)
                out.touched.add(window.enterprise_id)
        return out

    def _in_partition(self, partition: int) -> Callable[[str], bool]:
        return lambda enterprise_id: partition_of(enterprise_id, self.partitions) == partition

    def _logs(self, message: Message, out: BatchOutput, advanced: set[int]) -> None:
        logs = fast_logs(message.value, MAX_RECORD_BYTES)
        if logs is None:
            decoded = decode_batch(message.value, TransferLog)
            for rejected in decoded.rejected:
                out.deadletters.append(DeadLetter(rejected, message))
            out.counts[(message.topic, "invalid")] += len(decoded.rejected)
            logs = decoded.records
        if not logs:
            return
        evaluate, findings, transfers = self.engine.transfer_result, out.findings, out.transfers
        duplicates = 0
        for log in logs:
            self._ensure_loaded(log.enterprise_id)
            result = evaluate(log)
            findings += result.findings
            transfers.append(EvaluatedTransfer(log, result.decision, message))
            duplicates += result.duplicate
        out.touched.update(log.enterprise_id for log in logs)
        if duplicates:
            out.counts[(message.topic, "duplicate")] += duplicates
        if duplicates < len(logs):
            out.counts[(message.topic, "evaluated")] += len(logs) - duplicates
        if self.data_advances_watermark:  # nothing reads the watermark until the batch ends
            self._advance(message.partition, max(log.ts for log in logs), advanced)

    def _action(self, message: Message, out: BatchOutput) -> None:
        """A responder resolved an alert: its findings stop counting as unresolved."""
        try:
            action = orjson.loads(message.value or b"")
            enterprise_id = str(action["enterprise_id"])
            finding_ids = [str(f) for f in action["finding_ids"]]
            resolved = action["status"] == "resolved"
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            reason = f"invalid alert action: {exc!r}"
            out.deadletters.append(
                DeadLetter(Rejected(None, message.value or b"", reason), message)
            )
            out.counts[(message.topic, "invalid")] += 1
            return
        if resolved:
            self._ensure_loaded(enterprise_id)
            out.resolutions.append((enterprise_id, finding_ids))
            out.touched.add(enterprise_id)
        out.counts[(message.topic, "evaluated")] += 1

    def _aggregate(self, message: Message, out: BatchOutput, advanced: set[int]) -> None:
        """A flow-aggregate message: one share, a pack of a partition's shares, a watermark."""
        try:
            aggregates = decode_aggregates(message.value or b"")
        except ValueError as exc:
            out.deadletters.append(
                DeadLetter(Rejected(None, message.value or b"", str(exc)), message)
            )
            out.counts[(message.topic, "invalid")] += 1
            return
        for aggregate in aggregates:
            if aggregate.kind == KIND_WATERMARK:
                self._advance(message.partition, aggregate.max_ts, advanced)
                out.counts[(message.topic, "watermark")] += 1
                continue
            if self.data_advances_watermark:
                self._advance(message.partition, aggregate.max_ts, advanced)
            enterprise_id = aggregate.enterprise_id or (message.key or b"").decode()
            fresh = self._observe(enterprise_id, aggregate)
            out.touched.add(enterprise_id)
            outcome = "evaluated" if fresh or not aggregate.units else "duplicate"
            out.counts[(message.topic, outcome)] += 1  # per share: as many as were sent

    def _observe(self, enterprise_id: str, aggregate: AggregateMessage) -> int:
        """Apply a share's source messages not yet applied; how many were new."""
        self._ensure_loaded(enterprise_id)
        state = self.engine.state(enterprise_id)
        applied = state.applied_offsets
        fresh = 0
        for partition, offset, windows in aggregate.units:
            source = f"{self.flows_topic}:{partition}"
            if offset <= applied.get(source, -1):
                continue  # re-sent after a takeover: this probe message is already counted
            applied[source] = offset
            fresh += 1
            for country, start, nbytes, flows, dlp in windows:
                self.engine.observe(enterprise_id, country, start, nbytes, flows, dlp)
        return fresh
