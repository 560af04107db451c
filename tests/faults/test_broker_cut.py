"""Scenario: the worker's connection to the broker is cut, then restored.

Setup: Tansu advertising the address of a TCP proxy, so every connection of the worker (and
of this test's clients) goes through it; one `xbmon worker`; a synthetic world's logs, half
before the cut and half after.
Fault: every connection is reset and new ones refused for 10 s (longer than the 6 s session
timeout, so the broker drops the member and the worker must rejoin).
What must hold: consumption resumes (every finding of the offline replay is produced, the
lag returns to 0); the group then settles: stable, with one member whose id stays the
same (no rebalance loop); committed offsets never go backwards.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.structs import TopicPartition

from pipeline.broker import LocalBroker, free_port
from pipeline.embedded import Stack, all_partitions, wait_until
from pipeline.flow_aggregates import watermark_message
from pipeline.replay import replay_records
from pipeline.stream_replay import END_OF_TIME, log_messages
from pipeline.synth import synthesize
from pipeline.topics import FLOW_AGGREGATES, TRANSFER_LOGS

pytestmark = pytest.mark.slow
PARTITIONS = 2
CUT_S = 10.0


def group_view(bootstrap: str, group: str) -> tuple[str, frozenset[str], dict[int, int]] | None:
    """(state, member ids, committed offsets) of the group, or None while unreachable."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    except Exception:
        return None
    try:
        described = admin.describe_groups([group])[group]
        members = frozenset(str(m["member_id"]) for m in described["members"])
        tps = [TopicPartition(TRANSFER_LOGS.name, p) for p in range(PARTITIONS)]
        offsets = admin.list_group_offsets({group: tps}).get(group, {})
        committed = {tp.partition: m.offset for tp, m in offsets.items() if m.offset >= 0}
        return str(described["group_state"]), members, committed
    except Exception:
        return None
    finally:
        admin.close()


def test_broker_connection_cut_and_restored(
    tmp_path: Path, tcp_proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kafka-python 3.0 cannot decode the authorized-operations bits Tansu returns in
    # DescribeGroups (ValueError: 15 is not a valid ACLOperation); they are not needed here.
    monkeypatch.setattr("kafka.admin._acls.valid_acl_operations", lambda values: set())
    world = synthesize(enterprises=10, days=2, seed=3)
    expected = {
        f.finding_id
        for f in replay_records(world.enterprises, world.filings, world.negative_list, world.logs)
    }
    logs = log_messages(world.logs)
    half = len(logs) // 2

    port = free_port()
    proxy = tcp_proxy(port)
    broker = LocalBroker(tmp_path / "broker", port=port, advertised_port=proxy.port).start()
    bootstrap = broker.bootstrap_servers
    assert bootstrap == f"127.0.0.1:{proxy.port}"  # clients start at the proxy too
    views: list[tuple[float, tuple[str, frozenset[str], dict[int, int]]]] = []
    sampling = threading.Event()
    sampling.set()

    def sample() -> None:
        while sampling.is_set():
            view = group_view(bootstrap, "xbmon")
            if view is not None:
                views.append((time.monotonic(), view))
            time.sleep(0.3)

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        with Stack(
            tmp_path / "stack",
            partitions=PARTITIONS,
            bootstrap=bootstrap,
            store=False,
            extra_env={"XBMON_WINDOWS_CLOSE": "end_of_input"},
        ) as stack:
            stack.start(workers=1)
            stack.publish_reference([*world.enterprises, *world.filings, *world.negative_list])
            sampler.start()
            stack.produce(logs[:half])
            wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 60, "the first half")

            proxy.cut()
            time.sleep(CUT_S)
            proxy.restore()
            restored = time.monotonic()

            stack.produce(logs[half:])
            wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 90, "the second half")
            stack.produce(
                all_partitions(FLOW_AGGREGATES.name, PARTITIONS, watermark_message(END_OF_TIME))
            )
            wait_until(
                lambda: {f.finding_id for f in stack.findings()} >= expected, 60, "the findings"
            )
            settled = time.monotonic()
            time.sleep(4)  # keep watching the group once everything is consumed
            assert stack.workers[0].alive
            found = {f.finding_id for f in stack.findings()}
    finally:
        sampling.clear()
        sampler.join(5)
        broker.stop()

    assert found == expected
    # Committed offsets never go backwards.
    for (_, (_, _, before)), (_, (_, _, after)) in itertools.pairwise(views):
        for partition, offset in before.items():
            assert after.get(partition, offset) >= offset, (partition, before, after)
    after_restore = [view for at, view in views if at > restored]
    assert after_restore, "the group was observed after the restore"
    # No rebalance loop: once consumption is complete the group is stable, with one member
    # that does not change (a member rejoining again and again would get new ids).
    final = [view for at, view in views if at > settled]
    assert len(final) >= 3, final
    assert all(state == "Stable" and len(members) == 1 for state, members, _ in final), final
    assert len({members for _, members, _ in final}) == 1, final
