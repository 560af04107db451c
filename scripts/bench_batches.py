"""Off-stream cost of the worker's batch path (no broker, no Faust): records per second.

Decodes and processes a synthesised world through `WorkerContext` exactly as the agents do,
in batches of 5 messages of 100 records. Used for the optimisation history in the README:
run it at two commits in the same session to compare (`PYTHONPATH=<tree> python
scripts/bench_batches.py`).
"""

from __future__ import annotations

import time

from pipeline.settings import Settings
from pipeline.stream_batch import Message
from pipeline.synth import synthesize
from pipeline.topics import EGRESS_FLOWS, TRANSFER_LOGS
from pipeline.wire import decode_batch, encode_batch
from pipeline.worker import WorkerContext
from schemas.models import EgressFlow, TransferLog

PER_MESSAGE = 100
PER_BATCH = 5


def messages(records: list, topic: str) -> list[Message]:  # type: ignore[type-arg]
    return [
        Message(topic, 0, i // PER_MESSAGE, None, encode_batch(records[i : i + PER_MESSAGE]), 0)
        for i in range(0, len(records), PER_MESSAGE)
    ]


def rate(count: int, began: float) -> str:
    return f"{count / (time.perf_counter() - began):>10,.0f} records/s"


def main() -> None:
    world = synthesize(200, 7, seed=1)
    ctx = WorkerContext(Settings(store_enabled=False))
    for enterprise in world.enterprises:
        ctx.reference.upsert_enterprise(enterprise)
    for filing in world.filings:
        ctx.reference.upsert_filing(filing)
    for entry in world.negative_list:
        ctx.reference.upsert_entry(entry)
    flows = messages(sorted(world.flows, key=lambda f: f.ts_start), EGRESS_FLOWS.name)
    logs = messages(sorted(world.logs, key=lambda log: log.ts), TRANSFER_LOGS.name)
    print(f"world: {len(world.logs)} logs, {len(world.flows)} flows")

    began = time.perf_counter()
    for message in flows:
        decode_batch(message.value, EgressFlow)
    print("decode flows     ", rate(len(world.flows), began))
    began = time.perf_counter()
    for message in logs:
        decode_batch(message.value, TransferLog)
    print("decode logs      ", rate(len(world.logs), began))
    began = time.perf_counter()
    for i in range(0, len(flows), PER_BATCH):
        ctx.process_flows(flows[i : i + PER_BATCH])
    print("process flows    ", rate(len(world.flows), began))
    began = time.perf_counter()
    for i in range(0, len(logs), PER_BATCH):
        ctx.process_transfers(logs[i : i + PER_BATCH])
    print("process transfers", rate(len(world.logs), began))


if __name__ == "__main__":
    main()
