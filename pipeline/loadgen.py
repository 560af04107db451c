"""A paced synthetic load for the embedded mode: the synth world, replayed as live traffic.

Records go out in event-time order at a fixed rate, batched into messages as real producers
do (the gateway one message per request, probes one per export interval). When the world is
used up it starts again shifted by its own length, with fresh ids, so the load never ends and
never repeats a transfer. A small share of deliberately broken records exercises the
dead-letter path.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from pipeline.embedded import Stack
from pipeline.synth import World
from pipeline.topics import EGRESS_FLOWS, TRANSFER_LOGS
from schemas.models import EgressFlow, TransferLog

TICK_S = 0.1
INVALID_SAMPLES = (
    b'{"transfer_id": "broken", "enterprise_id": "not-a-uscc"}',
    b'{"transfer_id": 42',
    b'[{"transfer_id": "t", "subjects": "many"}]',
)


@dataclass
class LoadStats:
    records: Counter[str] = field(default_factory=Counter)  # by topic
    messages: int = 0
    invalid: int = 0


def shifted_timeline(
    world: World,
    loop: int,
    span: timedelta,
    kinds: tuple[type[TransferLog | EgressFlow], ...] = (TransferLog, EgressFlow),
) -> Iterator[TransferLog | EgressFlow]:
    """The world's records (of `kinds`) in event-time order, moved `loop` spans later with
    fresh ids."""
    shift = span * loop
    suffix = f"~{loop}" if loop else ""

    def logs() -> Iterator[tuple[float, int, TransferLog | EgressFlow]]:
        for i, log in enumerate(sorted(world.logs, key=lambda x: (x.ts, x.transfer_id))):
            moved = log.model_copy(
                update={
                    "ts": log.ts + shift,
                    "transfer_id": log.transfer_id + suffix,
                    "received_at": log.received_at + shift if log.received_at else None,
                }
            )
            yield (moved.ts.timestamp(), i, moved)

    def flows() -> Iterator[tuple[float, int, TransferLog | EgressFlow]]:
        for i, flow in enumerate(sorted(world.flows, key=lambda x: (x.ts_start, x.flow_id))):
            moved = flow.model_copy(
                update={
                    "ts_start": flow.ts_start + shift,
                    "ts_end": flow.ts_end + shift,
                    "flow_id": flow.flow_id + suffix,
                }
            )
            yield (moved.ts_start.timestamp(), i, moved)

    sources = [
        source()
        for kind, source in ((TransferLog, logs), (EgressFlow, flows))
        if kind in kinds  # the other kind is not copied only to be dropped
    ]
    for _, _, record in heapq.merge(*sources):
        yield record


def message_key(record: TransferLog | EgressFlow) -> tuple[str, str]:
    """Topic and key a producer sends a record under: logs by enterprise, flows by probe."""
    if isinstance(record, TransferLog):
        return TRANSFER_LOGS.name, record.enterprise_id
    return EGRESS_FLOWS.name, record.probe_id


class LoadGenerator(threading.Thread):
    """Produces the world into the stack at `rate` records per second until stopped."""

    def __init__(
        self, stack: Stack, world: World, rate: int, invalid_ratio: float = 0.002, seed: int = 0
    ) -> None:
        super().__init__(name="xbmon-load", daemon=True)
        self.stack = stack
        self.world = world
        self.rate = rate
        self.invalid_ratio = invalid_ratio
        self.rng = random.Random(seed)
        self.stats = LoadStats()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        first = min(log.ts for log in world.logs)
        last = max(log.ts for log in world.logs)
        self.span = (last - first) + timedelta(days=1)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # surfaced by the supervisor, not swallowed
            self.error = exc

    def _records(self) -> Iterator[TransferLog | EgressFlow]:
        loop = 0
        while True:
            yield from shifted_timeline(self.world, loop, self.span)
            loop += 1

    def _run(self) -> None:
        records = self._records()
        per_tick = max(1, int(self.rate * TICK_S))
        next_tick = time.monotonic()
        while not self.stopping.is_set():
            batch = [next(records) for _ in range(per_tick)]
            self._send(batch)
            next_tick += TICK_S
            delay = next_tick - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)

    def _send(self, batch: list[TransferLog | EgressFlow]) -> None:
        by_key: dict[tuple[str, str], list[bytes]] = defaultdict(list)
        for record in batch:
            key = message_key(record)
            by_key[key].append(record.model_dump_json().encode())
            self.stats.records[key[0]] += 1
        messages: list[tuple[str, bytes | None, bytes | None, int | None]] = [
            (topic, key.encode(), b"[" + b",".join(values) + b"]", None)
            for (topic, key), values in by_key.items()
        ]
        if self.rng.random() < self.invalid_ratio * len(batch):
            sample = self.rng.choice(INVALID_SAMPLES)
            messages.append((TRANSFER_LOGS.name, b"invalid", sample, None))
            self.stats.invalid += 1
        self.stats.messages += self.stack.produce(messages)
