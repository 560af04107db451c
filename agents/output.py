"""Where an agent's results go: the findings and dead-letter topics, and the evidence store."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from pipeline import metrics
from pipeline.rules.findings import EvaluatedFinding
from pipeline.sink import EvidenceSink
from pipeline.stream_batch import BatchOutput, DeadLetter, Message
from pipeline.topics import DEADLETTER, FINDINGS
from pipeline.wire import Rejected, deadletter_value
from pipeline.worker import WorkerContext

log = logging.getLogger(__name__)


class Output:
    """Publishes to topics (acks=all) and writes evidence off the event loop."""

    def __init__(self, app: faust.App, ctx: WorkerContext, sink: EvidenceSink | None) -> None:
        self.ctx = ctx
        self.sink = sink
        self.findings_topic = app.topic(FINDINGS.name, key_serializer="raw", value_serializer="raw")
        self.deadletter_topic = app.topic(
            DEADLETTER.name, key_serializer="raw", value_serializer="raw"
        )
        # chDB is synchronous and allows one session per process: one writer thread.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xbmon-store")

    async def publish(self, findings: list[EvaluatedFinding], dead: Sequence[DeadLetter]) -> None:
        by_enterprise: dict[str, list[bytes]] = defaultdict(list)
        for item in findings:
            by_enterprise[item.finding.enterprise_id].append(
                item.finding.model_dump_json().encode()
            )
        for enterprise_id, values in sorted(by_enterprise.items()):
            await self.findings_topic.send(
                key=enterprise_id.encode(), value=b"[" + b",".join(values) + b"]"
            )
        now = self.ctx.clock()
        for letter in dead:
            source = letter.source
            await self.deadletter_topic.send(
                key=source.key,
                value=deadletter_value(
                    letter.rejected, source.topic, source.partition, source.offset, now
                ),
            )
        self.ctx.count_deadletters(list(dead))

    async def store(self, out: BatchOutput, messages: Sequence[Message]) -> None:
        if self.sink is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.executor, self.sink.write, out, list(messages))
        self.observe_latency(messages)

    def observe_latency(self, messages: Sequence[Message]) -> None:
        now_ms = time.time() * 1000
        for message in messages:
            if message.timestamp_ms:
                metrics.PROCESSING_LATENCY.labels(message.topic).observe(
                    max(0.0, now_ms - message.timestamp_ms) / 1000
                )

    async def dead_letter_batch(self, messages: Sequence[Message], exc: BaseException) -> None:
        """Last resort for a failed batch: every message to the dead-letter topic, as is."""
        reason = f"internal error: {type(exc).__name__}: {exc}"
        dead = [DeadLetter(Rejected(None, m.value or b"", reason), m) for m in messages]
        try:
            await self.publish([], dead)
        except Exception:  # the broker itself is failing: Faust will retry the session
            log.exception("could not dead-letter a failed batch")

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        if self.sink is not None:
            self.sink.close()


def make_output(app: faust.App, ctx: WorkerContext, sink: Any) -> Output:
    return Output(app, ctx, sink)
