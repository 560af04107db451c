"""Off-stream cost of the worker's batch path (no broker, no Faust): records per second.

Runs the bench's world through `WorkerContext` as the agents do, in batches of 200
messages of 100 records: decoding alone, then the whole worker path (flows attributed and
aggregated, the aggregates reconciled and their windows closed, transfer logs evaluated and
scored, evidence rows encoded for the store writer, every touched state encoded). Last, the
paced phase of `xbmon bench` after its backlogs: flows and logs mixed, continuing the
backlogs' event time with fresh ids, 10 records a message, 90 messages a batch (what the
transfer agent took at half load), states encoded every 5 batches (the worker writes them
every 0.5 s). Used for the optimisation history in the README: run it at two commits in the
same session to compare (`PYTHONPATH=<tree> python scripts/bench_batches.py`).
"""

from __future__ import annotations

import gc
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from pipeline.bench import BenchOptions, batched, load_world, mixed, timeline
from pipeline.evidence_rows import batch_token, output_rows, produced_ms, table_token
from pipeline.settings import Settings
from pipeline.state_codec import encode_state
from pipeline.store_writer import row_messages
from pipeline.stream_batch import Message, partition_of
from pipeline.synth import World
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS
from pipeline.wire import MAX_RECORD_BYTES, decode_batch
from pipeline.worker import WorkerContext
from schemas.models import EgressFlow, TransferLog

PER_MESSAGE = 100
PER_BATCH = 200
FLOWS = 200_000
LOGS = 100_000
PACED = 40_000
PACED_PER_MESSAGE = 10
PACED_BATCH = 90
PACED_STATE_EVERY = 5
SETTINGS = Settings()  # the worker's defaults
PARTITIONS = SETTINGS.kafka.partitions


def tune_gc() -> None:
    """What the worker process does at start (a no-op on commits from before it did)."""
    try:
        from pipeline.gc_tuning import tune_worker_gc
    except ImportError:
        pass
    else:
        tune_worker_gc(SETTINGS)
        return
    try:
        from pipeline.gc_tuning import tune_gc as process_tune_gc
    except ImportError:
        try:
            from agents.worker import tune_gc as process_tune_gc  # type: ignore[attr-defined,no-redef]
        except ImportError:
            return
    process_tune_gc(SETTINGS.gc_threshold)


def after_batch() -> None:
    """What an agent does after each batch (nothing on commits from before it collected)."""
    try:
        from pipeline.gc_tuning import after_batch as agent_after_batch
    except ImportError:
        return
    agent_after_batch(SETTINGS)


def messages(
    world: World,
    topic: str,
    model: type[EgressFlow] | type[TransferLog],
    count: int,
    start_loop: int = 0,
) -> list[Message]:
    produced = batched(timeline(world, model, start_loop), count, PER_MESSAGE)
    return on_partitions((topic, key, value) for _, key, value in produced)


def paced_messages(world: World, start_loop: int) -> list[Message]:
    produced = batched(mixed(world, random.Random(1), start_loop), PACED, PACED_PER_MESSAGE)
    return on_partitions(produced)


def on_partitions(produced: Iterable[tuple[str, bytes, bytes]]) -> list[Message]:
    """Messages on the partitions their keys hash to, with offsets counted per partition.

    A partition's windows close on its own watermark, for the enterprises it holds: all on
    one partition, most windows never closed (hundreds open per enterprise, not tens).
    """
    offsets: Counter[tuple[str, int]] = Counter()
    placed = []
    for topic, key, value in produced:
        partition = partition_of(key.decode(), PARTITIONS)
        placed.append(Message(topic, partition, offsets[topic, partition], key, value, 1))
        offsets[topic, partition] += 1
    return placed


def context(world: World) -> WorkerContext:
    ctx = WorkerContext(
        Settings(store_enabled=True), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)
    )
    for enterprise in world.enterprises:
        ctx.reference.upsert_enterprise(enterprise)
    for filing in world.filings:
        ctx.reference.upsert_filing(filing)
    for entry in world.negative_list:
        ctx.reference.upsert_entry(entry)
    return ctx


def worker_path(
    ctx: WorkerContext, batch: list[Message], aggregates_from: int, pending: set[str] | None = None
) -> int:
    """One batch as the agents handle it; returns the next aggregate offset.

    With `pending`, the touched enterprises are added to it instead of encoded at once.
    """
    if batch[0].topic == EGRESS_FLOWS.name:
        by_enterprise, _ = ctx.process_flows(batch)
        batch = []
        for partition, key, value in aggregate_messages(by_enterprise):
            batch.append(Message(FLOW_AGGREGATES.name, partition, aggregates_from, key, value, 1))
            aggregates_from += 1
        del by_enterprise  # sent: garbage, as in the agent
        after_batch()  # the flow agent's
    out = ctx.process_transfers(batch)
    token, produced = batch_token(batch), produced_ms(out)
    for table, rows in output_rows(out, ctx.clock()).items():
        for _ in row_messages(table, rows, table_token(table, token, rows), produced.get(table)):
            pass
    if pending is not None:
        pending.update(out.touched)
    else:
        encode_states(ctx, out.touched)
    del out  # sent: garbage, as in the agent
    after_batch()  # the transfer agent's
    return aggregates_from


def encode_states(ctx: WorkerContext, enterprise_ids: set[str]) -> None:
    chunk_ids = ctx.settings.seen_chunk_ids
    for enterprise_id in enterprise_ids:
        state = ctx.engine.states.get(enterprise_id)
        if state is not None:
            state.archive_seen(chunk_ids)
            encode_state(state)


def aggregate_messages(by_enterprise: dict[str, Any]) -> Iterator[tuple[int, bytes, bytes]]:
    """As the flow agent sends them, packed once the commit packs them."""
    try:
        from pipeline.flow_aggregates import packed_messages
    except ImportError:  # a commit from before the packs: one message per enterprise
        for enterprise_id, share in sorted(by_enterprise.items()):
            yield partition_of(enterprise_id, PARTITIONS), enterprise_id.encode(), share.encode()
        return
    yield from packed_messages(by_enterprise, lambda e: partition_of(e, PARTITIONS))


def fast_path(name: str) -> Callable[[bytes | None, int], object] | None:
    try:
        import pipeline.fast_decode as fast_decode
    except ImportError:
        return None
    found: Callable[[bytes | None, int], object] | None = getattr(fast_decode, name, None)
    return found


def rate(count: int, began: float) -> str:
    return f"{count / (time.perf_counter() - began):>10,.0f} records/s"


def main() -> None:
    world, _ = load_world(BenchOptions(data_dir=Path(mkdtemp())))
    flows = messages(world, EGRESS_FLOWS.name, EgressFlow, FLOWS)
    logs = messages(world, TRANSFER_LOGS.name, TransferLog, LOGS)
    tune_gc()
    for name, batch_of, model, count in (
        ("decode flows     ", flows, EgressFlow, FLOWS),
        ("decode logs      ", logs, TransferLog, LOGS),
    ):
        began = time.perf_counter()
        for message in batch_of:
            decode_batch(message.value, model)
        print(name, rate(count, began))
    for name, path, batch_of, count in (
        ("decode flows fast", "fast_flows", flows, FLOWS),
        ("decode logs fast ", "fast_logs", logs, LOGS),
    ):
        fast = fast_path(path)
        if fast is None:  # a commit from before that fast path
            continue
        began = time.perf_counter()
        for message in batch_of:
            fast(message.value, MAX_RECORD_BYTES)
        print(name, rate(count, began))
    for name, batch_of, count in (
        ("worker path flows", flows, FLOWS),
        ("worker path logs ", logs, LOGS),
    ):
        ctx = context(world)
        gc.collect()
        began = time.perf_counter()
        offset = 0
        for start in range(0, len(batch_of), PER_BATCH):
            offset = worker_path(ctx, batch_of[start : start + PER_BATCH], offset)
        print(name, rate(count, began))
    print("paced after both ", paced(world, flows))


def paced(world: World, flows: list[Message]) -> str:
    """The paced phase after both backlogs, on one context, as `xbmon bench` runs them."""
    flows_loops = -(-FLOWS // len(world.flows))
    logs_loops = -(-LOGS // len(world.logs))
    logs = messages(world, TRANSFER_LOGS.name, TransferLog, LOGS, flows_loops)
    load = paced_messages(world, flows_loops + logs_loops)
    ctx = context(world)
    offset = 0
    for backlog in (flows, logs):
        for start in range(0, len(backlog), PER_BATCH):
            offset = worker_path(ctx, backlog[start : start + PER_BATCH], offset)
    gc.collect()
    pending: set[str] = set()
    began = time.perf_counter()
    for number, start in enumerate(range(0, len(load), PACED_BATCH), start=1):
        batch = load[start : start + PACED_BATCH]
        for topic in (EGRESS_FLOWS.name, TRANSFER_LOGS.name):  # the two agents
            part = [m for m in batch if m.topic == topic]
            if part:
                offset = worker_path(ctx, part, offset, pending)
        if number % PACED_STATE_EVERY == 0:
            encode_states(ctx, pending)
            pending.clear()
    encode_states(ctx, pending)
    return rate(PACED, began)


if __name__ == "__main__":
    main()
