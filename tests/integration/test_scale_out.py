"""Two workers share the partitions; one is killed mid-stream; the store still holds every
finding exactly once (the offline replay is the oracle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.embedded import Stack, all_partitions, wait_until
from pipeline.flow_aggregates import watermark_message
from pipeline.replay import replay_dir
from pipeline.settings import Settings
from pipeline.storage import fetch_findings, open_store
from pipeline.stream_replay import END_OF_TIME, flow_messages, log_messages
from pipeline.synth import synthesize, write_world
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS

pytestmark = pytest.mark.slow
PARTITIONS = 4


def test_failover_keeps_every_finding_exactly_once(tmp_path: Path) -> None:
    world = synthesize(enterprises=24, days=3, seed=7)
    write_world(world, tmp_path / "world")
    expected = {f.finding_id for f in replay_dir(tmp_path / "world").findings}

    stack = Stack(
        tmp_path / "stack",
        partitions=PARTITIONS,
        store=True,
        extra_env={"XBMON_WINDOWS_CLOSE": "end_of_input"},
    )
    with stack:
        stack.start(workers=2)
        owned = [w.metrics() for w in stack.workers]
        shares = [
            sum(v for (n, _), v in m.items() if n == "xbmon_assigned_partitions") for m in owned
        ]
        assert sorted(shares) == [2, 2], "the partitions are shared"

        stack.publish_reference([*world.enterprises, *world.filings, *world.negative_list])
        stack.produce(flow_messages(world.flows))
        wait_until(
            lambda: stack.metric("xbmon_events_total", topic=EGRESS_FLOWS.name) >= len(world.flows),
            60,
            "flows",
        )
        wait_until(
            lambda: (
                stack.metric("xbmon_events_total", topic=FLOW_AGGREGATES.name)
                >= stack.metric("xbmon_flow_aggregates_sent_total")
            ),
            60,
            "flow aggregates",
        )
        logs = log_messages(world.logs)
        half = len(logs) // 2
        stack.produce(logs[:half])
        # Known limit (see the README): a partition whose first offsets were never committed
        # is not resumed by the survivor, so the kill comes once the first half is committed.
        wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 60, "the first half committed")
        stack.workers[1].kill()  # mid-stream, without a clean shutdown
        stack.produce(logs[half:])
        wait_until(
            lambda: stack.metric("xbmon_assigned_partitions") == PARTITIONS,
            60,
            "the survivor to take over every partition",
        )
        # Every log processed and committed (the killed worker's metrics are gone with it).
        wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 60, "no consumer lag")
        stack.produce(
            all_partitions(FLOW_AGGREGATES.name, PARTITIONS, watermark_message(END_OF_TIME))
        )

        def complete() -> bool:
            return {f.finding_id for f in stack.findings()} >= expected

        wait_until(complete, 120, "every expected finding on the topic", interval=1.0)
        # Give the writer time to drain the evidence topic before it is stopped.
        wait_until(
            lambda: (
                stack.writer is not None
                and stack.writer.metrics().get(
                    ("xbmon_store_rows_total", (("table", "findings"),)), 0
                )
                >= len(expected)
            ),
            60,
            "the store writer to store the findings",
        )

    store = open_store(Settings(data_dir=tmp_path / "stack"))
    try:
        stored = fetch_findings(store)
        ids = [f.finding_id for f in stored]
        assert len(ids) == len(set(ids)), "a finding stored twice"
        assert set(ids) == expected
    finally:
        store.close()
