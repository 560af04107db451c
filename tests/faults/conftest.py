"""Fault-injection fixtures: a real Tansu broker, real chDB, evidence rows from a real engine,
store-writer processes, a store that fails on demand and a TCP proxy that cuts connections."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.structs import TopicPartition

from pipeline.broker import LocalBroker
from pipeline.evidence_rows import batch_token, output_rows, table_token
from pipeline.kafka_admin import ensure_topics
from pipeline.reference_stream import reference_messages
from pipeline.row_batches import RowsMessage
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore, StoreUnavailableError, open_store
from pipeline.store_writer import GROUP_SUFFIX, row_messages
from pipeline.stream_batch import Message, partition_of
from pipeline.stream_replay import log_messages
from pipeline.synth import synthesize
from pipeline.topics import ALL_TOPICS, EVIDENCE_ROWS
from pipeline.worker import WorkerContext

PARTITIONS = 2
WRITER_TABLES = ("transfers", "findings", "flow_windows", "alerts", "scores", "deadletters")
NOW = datetime(2026, 11, 22, tzinfo=UTC)


@dataclass(frozen=True)
class Evidence:
    """evidence.rows message values made by the real engine, and the rows each table gets."""

    values: list[bytes]
    rows: Counter[str]


@pytest.fixture(scope="session")
def evidence() -> Evidence:
    world = synthesize(enterprises=16, days=3, seed=11)
    ticks = itertools.count()
    ctx = WorkerContext(
        Settings(windows_close="event_time"),
        clock=lambda: NOW + timedelta(milliseconds=next(ticks)),  # distinct score times
    )
    for topic, key, value in reference_messages(
        [*world.enterprises, *world.filings, *world.negative_list]
    ):
        ctx.apply_reference(topic, key, value)
    messages = [
        Message(topic, partition_of(key.decode(), 4) if key else 0, offset, key, value)
        for offset, (topic, key, value, _) in enumerate(log_messages(world.logs))
        if value is not None
    ]
    values: list[bytes] = []
    rows: Counter[str] = Counter()
    for start in range(0, len(messages), 2):
        batch = messages[start : start + 2]
        token = batch_token(batch)
        for table, table_rows in output_rows(ctx.process_transfers(batch), NOW).items():
            values.extend(row_messages(table, table_rows, table_token(table, token, table_rows)))
            rows[table] += len(table_rows)
    return Evidence(values, rows)


def raw_counts(store: EvidenceStore) -> Counter[str]:
    """Rows per table without FINAL: a duplicate insert shows here, merges or not."""
    counts: Counter[str] = Counter()
    for table in WRITER_TABLES:
        sql = "SELECT count() AS n FROM {database:Identifier}.{table:Identifier}"
        counts[table] = int(store.query(sql, {"table": table})[0]["n"])
    return counts


class FlakyStore(EvidenceStore):
    """A real store whose inserts fail (retryably) `fail_next` times, or while `down` is set."""

    backend = "flaky"

    def __init__(self, inner: EvidenceStore) -> None:
        super().__init__(inner.database, inner.retention_days)
        self.inner = inner
        self.fail_next = 0
        self.down = threading.Event()
        self.failures = 0
        self.inserted_tokens: list[str] = []
        self.lock = threading.Lock()

    def insert(self, table: str, rows: list[dict[str, Any]], dedup_token: str | None = None) -> int:
        self._maybe_fail()
        written = self.inner.insert(table, rows, dedup_token)
        self._inserted(dedup_token)
        return written

    def insert_json(self, table: str, body: bytes, dedup_token: str) -> None:
        self._maybe_fail()
        self.inner.insert_json(table, body, dedup_token)
        self._inserted(dedup_token)

    def _maybe_fail(self) -> None:
        with self.lock:
            if self.down.is_set() or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                self.failures += 1
                raise StoreUnavailableError("injected: store unavailable")

    def _inserted(self, token: str | None) -> None:
        with self.lock:
            self.inserted_tokens.append(str(token))

    def close(self) -> None:
        self.inner.close()

    def _execute(self, sql: str, parameters: dict[str, Any]) -> None:
        self.inner._execute(sql, parameters)

    def _select(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        return self.inner._select(sql, parameters)

    def _insert_payload(self, table: str, payload: bytes, token: str) -> None:
        self.inner._insert_payload(table, payload, token)


@dataclass
class Harness:
    """A broker with xbmon's topics and a data directory for one scenario."""

    root: Path
    broker: LocalBroker
    env: dict[str, str] = field(default_factory=dict)
    _producer: KafkaProducer | None = None

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap_servers

    def settings(self, **changes: Any) -> Settings:
        base: dict[str, Any] = {
            "data_dir": self.root,
            "metrics_port": 0,
            # Tansu holds a JoinGroup answer for half the session timeout: join in 1 s.
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "partitions": PARTITIONS,
                "session_timeout_s": 2.0,
            },
        }
        base.update(changes)
        return Settings(**base)

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", linger_ms=5
            )
        return self._producer

    def produce(self, values: list[bytes]) -> dict[tuple[int, int], str]:
        """Send evidence messages keyed by their token; (partition, offset) -> token."""
        sent = []
        for value in values:
            token = RowsMessage.decode(value).token
            future = self.producer.send(EVIDENCE_ROWS.name, key=token.encode(), value=value)
            sent.append((future, token))
        self.producer.flush()
        placed = {}
        for future, token in sent:
            meta = future.get(timeout=30)
            placed[(meta.partition, meta.offset)] = token
        return placed

    def committed(self, group: str, topic: str = EVIDENCE_ROWS.name) -> dict[int, int]:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            offsets = admin.list_group_offsets({group: tps}).get(group, {})
        finally:
            admin.close()
        return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    def writer_committed(self) -> dict[int, int]:
        return self.committed("xbmon" + GROUP_SUFFIX)

    def spawn_writer(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        """`xbmon store-writer` as a child process, as in production."""
        full = {
            **os.environ,
            "XBMON_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "XBMON_KAFKA__PARTITIONS": str(PARTITIONS),
            "XBMON_DATA_DIR": str(self.root),
            "XBMON_METRICS_PORT": "0",
            "XBMON_KAFKA__SESSION_TIMEOUT_S": "2",
            **self.env,
            **env,
        }
        log = (self.root / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "store-writer"],
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def open_store(self, merges: bool = False) -> EvidenceStore:
        """The scenario's chDB store; merges off so that raw counts show any duplicate.

        Leave merges on when every row has its own key (nothing for a merge to collapse) and
        there are many inserts: without merges, 1,000 parts make ClickHouse delay inserts.
        """
        store = open_store(self.settings())
        store.ensure_schema()
        for table in () if merges else WRITER_TABLES:
            # Persisted in the table's metadata, so the writer processes do not merge either.
            store.query(
                "ALTER TABLE {database:Identifier}.{table:Identifier} MODIFY SETTING "
                "max_bytes_to_merge_at_max_space_in_pool = 1, "
                "max_bytes_to_merge_at_min_space_in_pool = 1",
                {"table": table},
            )
        return store

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
        self.broker.stop()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    broker = LocalBroker(tmp_path / "broker").start()
    ensure_topics(broker.bootstrap_servers, ALL_TOPICS, PARTITIONS, 1)
    running = Harness(tmp_path, broker)
    try:
        yield running
    finally:
        running.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def until() -> Callable[[Callable[[], bool], float, str], None]:
    return wait_for


@pytest.fixture
def flaky() -> type[FlakyStore]:
    return FlakyStore


@pytest.fixture
def counts() -> Callable[[EvidenceStore], Counter[str]]:
    return raw_counts


# -- network faults: a small threaded TCP proxy (toxiproxy is not available here) ---------


class TcpProxy:
    """Forwards a port to another; `cut()` resets every connection and refuses new ones
    (accepted, then closed at once) until `restore()`."""

    def __init__(self, listen_port: int, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.server = socket.create_server((host, listen_port), reuse_port=False)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.refusing = threading.Event()
        self.closing = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def cut(self) -> None:
        self.refusing.set()
        with self.lock:
            sockets, self.open = set(self.open), set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        self.refusing.clear()

    def close(self) -> None:
        self.closing.set()
        self.cut()
        self.thread.join(2)
        self.server.close()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=2)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open.update((client, upstream))
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self.lock:
                    self.open.discard(sock)
                _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[int], TcpProxy]]:
    """`tcp_proxy(target_port)`: a proxy on a free port, closed after the test."""
    made: list[TcpProxy] = []

    def make(target_port: int) -> TcpProxy:
        made.append(TcpProxy(0, target_port))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()
