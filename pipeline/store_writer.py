"""The store writer: evidence rows from the `evidence.rows` topic into ClickHouse.

Workers publish the rows of each batch (with the batch's deduplication token) instead of
writing themselves. The writer inserts them and only then commits its offsets, so:
- a store that is down or slow holds rows in Kafka, not in a worker's memory, and the rule
  engine keeps running (the topic is the spool);
- chDB, which one process may open, is written by one process however many workers run;
- a redelivered message carries the same token, and is stored once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer

from pipeline import metrics
from pipeline.evidence_log.sequencer import start_sealer
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore, open_store
from pipeline.storage.errors import StoreError
from pipeline.topics import EVIDENCE_ROWS
from pipeline.wire import MAX_MESSAGE_BYTES, chunk_encoded

log = logging.getLogger(__name__)

MAX_ROWS_PER_MESSAGE = 2000
MAX_BACKOFF_S = 5.0
GROUP_SUFFIX = "-store-writer"


def row_messages(
    table: str, rows: list[dict[str, Any]], token: str, produced_ms: list[int] | None = None
) -> Iterator[bytes]:
    """Rows of one table and batch, chunked so no message grows past the broker's limit.

    Cut by encoded size (findings carry their evidence bundle: 2,000 of them made a 4.6 MB
    message the producer refused). `produced_ms`, aligned with `rows`, says when each row's
    source record was produced (for the production-to-stored latency).
    """
    encoded = [orjson.dumps(row) for row in rows]
    ranges = chunk_encoded(encoded, MAX_MESSAGE_BYTES, MAX_ROWS_PER_MESSAGE)
    for index, (start, end) in enumerate(ranges):
        message: dict[str, Any] = {"table": table, "token": f"{token}#{index}", "rows": []}
        if produced_ms:
            message["produced_ms"] = produced_ms[start:end]
        head = orjson.dumps(message)
        # Splice the pre-encoded rows into the empty array: each row is encoded once.
        yield head.replace(b'"rows":[]', b'"rows":[' + b",".join(encoded[start:end]) + b"]", 1)


class LatencyRecorder:
    """Production-to-stored latency of stored rows: a histogram, and optionally a trace file."""

    def __init__(self, trace: Path | None) -> None:
        self.trace = trace.open("a", buffering=1 << 16) if trace else None

    def stored(self, table: str, produced_ms: list[int]) -> None:
        now_ms = time.time() * 1000
        histogram = metrics.STORED_LATENCY.labels(table)
        lines = []
        for produced in produced_ms:
            if produced > 0:
                latency_ms = max(0.0, now_ms - produced)
                histogram.observe(latency_ms / 1000)
                lines.append(f"{now_ms:.0f} {table} {latency_ms:.1f}\n")
        if self.trace is not None and lines:
            self.trace.write("".join(lines))
            self.trace.flush()

    def close(self) -> None:
        if self.trace is not None:
            self.trace.close()


def insert_with_retry(
    store: EvidenceStore,
    table: str,
    rows: list[dict[str, Any]],
    token: str,
    stopping: threading.Event,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Insert until it succeeds (True) or we are stopping (False); refused rows raise."""
    delay = 0.1
    while not stopping.is_set():
        try:
            store.insert(table, rows, dedup_token=token)
            metrics.STORE_ROWS.labels(table).inc(len(rows))
            return True
        except StoreError as exc:
            metrics.STORE_FAILURES.labels(table).inc()
            if not exc.retryable:
                raise
            log.warning("insert into %s failed (%s); retrying in %.1f s", table, exc, delay)
            sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
    return False


class StoreWriter:
    """Consumes `evidence.rows`, inserts, then commits: at-least-once into an idempotent store."""

    def __init__(self, settings: Settings, store: EvidenceStore) -> None:
        self.settings = settings
        self.store = store
        self.stopping = threading.Event()
        self.latency = LatencyRecorder(settings.latency_trace)
        self.consumer = KafkaConsumer(
            EVIDENCE_ROWS.name,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            group_id=settings.app_id + GROUP_SUFFIX,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=200,
            session_timeout_ms=int(settings.kafka.session_timeout_s * 1000),
            heartbeat_interval_ms=int(settings.kafka.heartbeat_interval_s * 1000),
            fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
        )

    def run(self) -> None:
        metrics.WORKER_READY.set(1)
        while not self.stopping.is_set():
            polled = self.consumer.poll(timeout_ms=200)
            if not polled:
                continue
            for records in polled.values():
                for record in records:
                    if not self._write(record.value):
                        return  # stopping: leave uncommitted, it will be redelivered
            self.consumer.commit()

    def _write(self, value: bytes) -> bool:
        try:
            message = orjson.loads(value)
            table, token, rows = message["table"], message["token"], message["rows"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.error("unreadable evidence message skipped: %s", exc)
            metrics.DEADLETTERS.labels(EVIDENCE_ROWS.name, "internal_format").inc()
            return True
        try:
            stored = insert_with_retry(self.store, table, rows, token, self.stopping)
            if stored:
                self.latency.stored(table, message.get("produced_ms") or [])
            return stored
        except StoreError as exc:
            # Rows the store refuses (a schema mismatch): counted and logged, not retried
            # forever; they stay on the topic for a replay once the cause is fixed.
            log.error("store refused %d rows for %s: %s", len(rows), table, exc)
            return True

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.consumer.close()
        self.store.close()
        self.latency.close()


def run_store_writer(settings: Settings) -> None:
    """Blocks until SIGINT/SIGTERM."""
    store = open_store(settings)
    store.ensure_schema()
    start_sealer(settings)  # the evidence log's one sequencer: seals every N s and at exit
    writer = StoreWriter(settings, store)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: writer.stop())
    metrics.serve(settings.metrics_port, settings.metrics_host)
    try:
        writer.run()
    finally:
        writer.close()
