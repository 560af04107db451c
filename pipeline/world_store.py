"""A synthetic world through the worker's own code path into an evidence store.

The dashboards' queries and the report are verified on what the stream really writes: this
runs the world's reference data, flows and transfer logs (with a few broken records) through
`WorkerContext` in-process, day by day in event time, and inserts `output_rows` of each batch
plus the reference register, exactly as the store writer would. The worker's clock follows
event time, so scores, tier changes and alerts spread over the world's period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from pipeline.evidence_rows import batch_token, output_rows
from pipeline.flow_aggregates import watermark_message
from pipeline.reference_rows import reference_rows
from pipeline.reference_stream import reference_messages
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore
from pipeline.stream_batch import BatchOutput, Message, partition_of
from pipeline.synth import World
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS
from pipeline.worker import WorkerContext

#: Records per transfer-log message (the gateway batches the same way).
LOGS_PER_MESSAGE = 200
#: Broken records mixed in per day, so dead letters have volume and reasons.
BROKEN_PER_DAY = 3


@dataclass
class _EventClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class _Offsets:
    next: Counter[tuple[str, int]] = field(default_factory=Counter)

    def message(self, topic: str, partition: int, key: str, value: bytes, ts: datetime) -> Message:
        offset = self.next[(topic, partition)]
        self.next[(topic, partition)] += 1
        return Message(topic, partition, offset, key.encode(), value, int(ts.timestamp() * 1000))


def _days(world: World) -> list[datetime]:
    times = [log.ts for log in world.logs] + [flow.ts_start for flow in world.flows]
    first = min(times).replace(hour=0, minute=0, second=0, microsecond=0)
    last = max(times)
    days = [first]
    while days[-1] + timedelta(days=1) <= last:
        days.append(days[-1] + timedelta(days=1))
    return days


def _broken(template: bytes, index: int) -> bytes:
    """A real log made invalid the ways senders get it wrong (a bad field, JSON, a country)."""
    record = orjson.loads(template)
    record["transfer_id"] = f"broken-{record['transfer_id']}-{index}"
    kind = index % 4
    if kind == 0:
        record["subjects"] = -1
    elif kind == 1:
        record["colour"] = "blue"
    elif kind == 2:
        record["country"] = "CN"
    else:
        return orjson.dumps(record)[:-7]  # cut short: unreadable JSON
    return orjson.dumps([record])


def _chunks(values: Sequence[bytes], size: int) -> Iterator[Sequence[bytes]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def store_world(
    store: EvidenceStore, world: World, settings: Settings | None = None
) -> Counter[str]:
    """Run `world` through a worker context into `store`; returns rows written per table."""
    settings = settings or Settings()
    partitions = settings.kafka.partitions
    days = _days(world)
    clock = _EventClock(days[0])
    ctx = WorkerContext(settings, clock=clock)
    offsets = _Offsets()
    written: Counter[str] = Counter()

    def write(out: BatchOutput, messages: Sequence[Message]) -> None:
        token = batch_token(messages) if messages else f"rescore|{clock.now.isoformat()}"
        for table, rows in output_rows(out, clock.now).items():
            if rows:
                store.insert(table, rows, dedup_token=f"{table}|{token}")
                written[table] += len(rows)

    records = [*world.enterprises, *world.filings, *world.negative_list]
    for topic, key, value in reference_messages(records):
        ctx.apply_reference(topic, key, value)
    for table, rows in reference_rows(records, days[0], ctx.config).items():
        store.insert(table, rows)
        written[table] += len(rows)

    logs_by_day: dict[datetime, list[bytes]] = defaultdict(list)
    flows_by_day: dict[datetime, list[bytes]] = defaultdict(list)
    for log in sorted(world.logs, key=lambda t: (t.ts, t.transfer_id)):
        day = log.ts.replace(hour=0, minute=0, second=0, microsecond=0)
        logs_by_day[day].append(log.model_dump_json().encode())
    for flow in sorted(world.flows, key=lambda f: f.ts_start):
        day = flow.ts_start.replace(hour=0, minute=0, second=0, microsecond=0)
        flows_by_day[day].append(flow.model_dump_json().encode())

    for day in days:
        clock.now = day + timedelta(days=1)
        flow_messages = [
            offsets.message(EGRESS_FLOWS.name, 0, "probe", b"[" + b",".join(chunk) + b"]", day)
            for chunk in _chunks(flows_by_day[day], LOGS_PER_MESSAGE)
        ]
        aggregates, dead = ctx.process_flows(flow_messages) if flow_messages else ({}, [])
        messages = [
            offsets.message(
                FLOW_AGGREGATES.name, partition_of(e, partitions), e, share.encode(), day
            )
            for e, share in sorted(aggregates.items())
        ]
        by_enterprise: dict[str, list[bytes]] = defaultdict(list)
        for raw in logs_by_day[day]:
            by_enterprise[str(orjson.loads(raw)["enterprise_id"])].append(raw)
        for enterprise_id, raws in sorted(by_enterprise.items()):
            for chunk in _chunks(raws, LOGS_PER_MESSAGE):
                value = b"[" + b",".join(chunk) + b"]"
                partition = partition_of(enterprise_id, partitions)
                messages.append(
                    offsets.message(TRANSFER_LOGS.name, partition, enterprise_id, value, day)
                )
        for index in range(BROKEN_PER_DAY if logs_by_day[day] else 0):
            broken = _broken(logs_by_day[day][index % len(logs_by_day[day])], index + day.day)
            messages.append(offsets.message(TRANSFER_LOGS.name, 0, "broken", broken, day))
        out = ctx.process_transfers(messages)
        out.deadletters.extend(dead)
        write(out, messages)
        # The daily decay re-score, a minute later: scores are keyed by (enterprise, time).
        clock.now += timedelta(minutes=1)
        write(ctx.rescore([e.enterprise_id for e in world.enterprises], "decay"), [])

    # End of input: event time passes every window's end plus the grace period.
    clock.now = days[-1] + timedelta(days=3)
    closing = [
        offsets.message(FLOW_AGGREGATES.name, p, "", watermark_message(clock.now), clock.now)
        for p in range(partitions)
    ]
    write(ctx.process_transfers(closing), closing)
    return written
