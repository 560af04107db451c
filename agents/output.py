"""Where an agent's results go: the findings and dead-letter topics, and the evidence store."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from typing import Any

import faust
import orjson
from faust.types import RecordMetadata

from agents.events import observe_ages
from pipeline import metrics
from pipeline.evidence_rows import batch_token, output_rows, produced_ms, table_token
from pipeline.rules.findings import EvaluatedFinding
from pipeline.store_writer import row_messages
from pipeline.stream_batch import BatchOutput, DeadLetter, Message
from pipeline.topics import ALERTS, DEADLETTER, EVIDENCE_ROWS, FINDINGS, SCORES, TIER_CHANGES
from pipeline.wire import Rejected, deadletter_value, finding_json, json_arrays
from pipeline.worker import WorkerContext

log = logging.getLogger(__name__)


class Output:
    """Publishes findings, dead letters and evidence rows (acks=all) for the store writer."""

    def __init__(self, app: faust.App, ctx: WorkerContext) -> None:
        self.app = app
        self.ctx = ctx
        self.store_enabled = ctx.settings.store_enabled

    async def produce(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> Awaitable[RecordMetadata]:
        """Send one message through the app's producer; the ack to wait for.

        Not `Topic.send`: Faust wraps each message in a FutureMessage and runs its codecs and
        sensors before it calls this same producer: 71-88 µs a send against 14-19 µs for the
        producer's own (`scripts/bench_sends.py`); a paced batch sends tens to hundreds.
        """
        producer = await self.app.maybe_start_producer()
        sent: Awaitable[RecordMetadata] = await producer.send(
            topic, key, value, partition, None, None
        )
        return sent

    async def send(self, out: BatchOutput, messages: Sequence[Message]) -> list[Awaitable[Any]]:
        """Everything a transfer batch produces, sent at once; the acks to wait for."""
        pending = await self._findings(out.findings, out.deadletters)
        pending += await self._supervision(out)
        pending += await self._rows(out, messages)
        return pending

    def acknowledged(self, deadletters: Sequence[DeadLetter], messages: Sequence[Message]) -> None:
        """Count what a batch sent once the broker has all of it."""
        self.ctx.count_deadletters(list(deadletters))
        self.observe_latency(messages)

    async def publish(self, findings: list[EvaluatedFinding], dead: Sequence[DeadLetter]) -> None:
        """Send findings (one message per enterprise) and dead letters; wait for the acks."""
        await asyncio.gather(*await self._findings(findings, dead))
        self.ctx.count_deadletters(list(dead))

    async def _findings(
        self, findings: list[EvaluatedFinding], dead: Sequence[DeadLetter]
    ) -> list[Awaitable[Any]]:
        pending: list[Awaitable[Any]] = []
        by_enterprise: dict[str, list[bytes]] = defaultdict(list)
        for item in findings:
            by_enterprise[item.finding.enterprise_id].append(finding_json(item.finding))
        for enterprise_id, values in sorted(by_enterprise.items()):
            for value in json_arrays(values):  # a burst of findings spans several messages
                pending.append(await self.produce(FINDINGS.name, enterprise_id.encode(), value))
        now = self.ctx.clock()
        for letter in dead:
            source = letter.source
            value = deadletter_value(
                letter.rejected, source.topic, source.partition, source.offset, now
            )
            pending.append(await self.produce(DEADLETTER.name, source.key, value))
        return pending

    async def publish_supervision(self, out: BatchOutput) -> None:
        """Scores (compacted, latest per enterprise), tier changes and alerts; wait for acks."""
        await asyncio.gather(*await self._supervision(out))

    async def _supervision(self, out: BatchOutput) -> list[Awaitable[Any]]:
        pending: list[Awaitable[Any]] = []
        for event in out.scores:
            key = event.enterprise_id.encode()
            value = orjson.dumps(event.as_json())
            pending.append(await self.produce(SCORES.name, key, value))
            if event.tier_changed:
                pending.append(await self.produce(TIER_CHANGES.name, key, value))
        for alert in out.alerts:
            key, value = alert.enterprise_id.encode(), alert.model_dump_json().encode()
            pending.append(await self.produce(ALERTS.name, key, value))
        return pending

    async def store(self, out: BatchOutput, messages: Sequence[Message]) -> None:
        """Hand the batch's evidence rows to the store writer, keyed by the batch identity."""
        await asyncio.gather(*await self._rows(out, messages))
        self.observe_latency(messages)

    async def _rows(self, out: BatchOutput, messages: Sequence[Message]) -> list[Awaitable[Any]]:
        pending: list[Awaitable[Any]] = []
        if self.store_enabled:
            token = batch_token(messages)
            produced = produced_ms(out)
            for table, rows in output_rows(out, self.ctx.clock()).items():
                for value in row_messages(
                    table, rows, table_token(table, token, rows), produced.get(table)
                ):
                    pending.append(await self.produce(EVIDENCE_ROWS.name, token.encode(), value))
        return pending

    def observe_latency(self, messages: Sequence[Message]) -> None:
        observe_ages(metrics.PROCESSING_LATENCY, messages)

    async def dead_letter_batch(self, messages: Sequence[Message], exc: BaseException) -> None:
        """Last resort for a failed batch: every message to the dead-letter topic, as is."""
        reason = f"internal error: {type(exc).__name__}: {exc}"
        dead = [DeadLetter(Rejected(None, m.value or b"", reason), m) for m in messages]
        try:
            await self.publish([], dead)
        except Exception:  # the broker itself is failing: Faust will retry the session
            log.exception("could not dead-letter a failed batch")
