"""The store writer: evidence rows from the `evidence.rows` topic into ClickHouse.

Workers publish the rows of each batch (with the batch's deduplication token) instead of
writing themselves. The writer inserts them, or, when the store fails, appends them to an
fsync'd on-disk spool (`pipeline.spool`), and only then commits its offsets, so:
- a store that is down or slow never blocks the rule engine nor loses an acknowledged row;
  the spool drains in order, retried with bounded exponential backoff, when the store is back;
- a full spool pauses consumption (back-pressure: the rows wait in Kafka, not in memory);
- chDB, which one process may open, is written by one process however many workers run;
- a redelivered or re-spooled message carries the same token, and is stored once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import TopicPartition

from pipeline import metrics
from pipeline.evidence_log.sequencer import start_sealer
from pipeline.gc_tuning import observe_collections, tune_gc
from pipeline.row_batches import RowsMessage, encode_message, merge
from pipeline.settings import FaultPoint, Settings
from pipeline.spool import Spool
from pipeline.storage import EvidenceStore, open_store
from pipeline.storage.errors import StoreError, StoreUnavailableError
from pipeline.topics import EVIDENCE_ROWS
from pipeline.wire import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

MAX_ROWS_PER_MESSAGE = 2000
GROUP_SUFFIX = "-store-writer"
REFUSED_FILE = "refused.jsonl"

Outcome = Literal["stored", "retry"]


def row_messages(
    table: str, rows: list[dict[str, Any]], token: str, produced_ms: list[int] | None = None
) -> Iterator[bytes]:
    """Rows of one table and batch, chunked so no message grows past the broker's limit.

    Cut by encoded size (findings carry their evidence bundle: 2,000 of them made a 4.6 MB
    message the producer refused). `produced_ms`, aligned with `rows`, says when each row's
    source record was produced (for the production-to-stored latency).
    """
    for index, (start, end, body) in enumerate(row_chunks(rows)):
        produced = produced_ms[start:end] if produced_ms else None
        yield encode_message(table, f"{token}#{index}", body, end - start, produced)


def row_chunks(
    rows: list[dict[str, Any]],
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_rows: int = MAX_ROWS_PER_MESSAGE,
) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, JSON array) of consecutive rows, in order: at most `max_rows` rows and
    `max_bytes` bytes each (a single larger row goes alone).

    Encoding the rows as one list is ~9x cheaper than row by row (5 µs a transfer row was a
    twentieth of the worker's time), so the list is encoded whole, cut by its mean row size,
    and a cut that is still too large is halved until it fits.
    """
    if not rows:
        return
    whole = orjson.dumps(rows)
    if len(whole) <= max_bytes and len(rows) <= max_rows:
        yield 0, len(rows), whole
        return
    step = max(1, min(max_rows, len(rows) * max_bytes * 9 // 10 // len(whole)))  # 10 % slack
    pending = [(start, min(start + step, len(rows))) for start in range(0, len(rows), step)]
    pending.reverse()  # a stack: the first cut on top
    while pending:
        start, end = pending.pop()
        body = orjson.dumps(rows[start:end])
        if len(body) <= max_bytes or end - start == 1:
            yield start, end, body
        else:
            middle = (start + end) // 2
            pending += [(middle, end), (start, middle)]


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


def fault(point: FaultPoint, configured: FaultPoint | None) -> None:
    """Test-only (XBMON_FAULT_POINT): die here as a power cut would, without any clean-up."""
    if configured == point:
        log.warning("fault point %s reached: SIGKILL", point)
        os.kill(os.getpid(), signal.SIGKILL)


class Backoff:
    """Bounded exponential backoff: initial, x2 per failure, at most `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum
        self.failures = 0
        self.next_attempt = 0.0  # monotonic time

    def failed(self, now: float) -> float:
        delay = min(self.maximum, self.initial * 2.0**self.failures)
        self.failures += 1
        self.next_attempt = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_attempt


class StoreWriter:
    """Consumes `evidence.rows`; inserts or spools, then commits: at-least-once, idempotent."""

    def __init__(self, settings: Settings, store: EvidenceStore) -> None:
        self.settings = settings
        self.store = store
        self.stopping = threading.Event()
        self.latency = LatencyRecorder(settings.latency_trace)
        config = settings.spool
        on_write = None
        if settings.fault_point == "spool_write":
            on_write = lambda _path: fault("spool_write", settings.fault_point)  # noqa: E731
        self.spool = Spool(settings.spool_dir, config.max_bytes, config.max_batches, on_write)
        self.backoff = Backoff(config.retry_initial_backoff_s, config.retry_max_backoff_s)
        self.paused = False
        self.injected_failures = settings.fault_store_failures
        self._head_done: tuple[int, int] = (0, 0)  # (sequence, records stored) of the head
        self.consumer = KafkaConsumer(
            EVIDENCE_ROWS.name,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            group_id=settings.app_id + GROUP_SUFFIX,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.writer.max_poll_records,
            session_timeout_ms=int(settings.kafka.session_timeout_s * 1000),
            heartbeat_interval_ms=int(settings.kafka.heartbeat_interval_s * 1000),
            fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
        )
        self._gauges()

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        metrics.WORKER_READY.set(1)
        while not self.stopping.is_set():
            self.drain()
            if self.paused and self.spool.below(self.settings.spool.resume_ratio):
                self._resume()
            polled = self._gather()
            if self.paused:
                self.consumer.pause(*self.consumer.assignment())  # newly assigned ones too
                self._rewind(polled)  # redelivered after resume
                continue
            if polled:
                self._handle(polled)
                self._commit()

    def _gather(self) -> dict[TopicPartition, list[ConsumerRecord]]:
        """One poll, then more while the topic holds more for us, within the gather bounds.

        Only a backlog is gathered: a writer that is caught up inserts what it polled at
        once (gathering a steady trickle added up to `gather_s` to every row's latency).
        """
        config = self.settings.writer
        polled = self.consumer.poll(timeout_ms=self._poll_timeout_ms())
        gathered = {tp: list(records) for tp, records in polled.items()}
        size = sum(len(r.value) for records in gathered.values() for r in records)
        deadline = time.monotonic() + config.gather_s
        while (
            gathered
            and size < config.gather_bytes
            and time.monotonic() < deadline
            and self._behind()
        ):
            more = self.consumer.poll(timeout_ms=config.gather_poll_ms)
            if not more:
                break
            for tp, records in more.items():
                gathered.setdefault(tp, []).extend(records)
                size += sum(len(r.value) for r in records)
        return gathered

    def _commit(self) -> None:
        """Commit the positions: everything stored or spooled, up to any seek back."""
        try:
            self.consumer.commit()
        except CommitFailedError as exc:
            # A rebalance took the partitions: the new owner gets these messages again and
            # their tokens make the second insert a no-op.
            log.warning("offset commit failed (%s); the messages will be redelivered", exc)

    def _poll_timeout_ms(self) -> int:
        if len(self.spool) and not self.paused:
            wait = self.backoff.next_attempt - time.monotonic()
            return int(max(10.0, min(200.0, wait * 1000)))
        return 200

    def _rewind(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Seek back to the first polled message of each partition we still own (a rebalance
        during a gathering may have taken some: their new owner reads them again)."""
        owned = self.consumer.assignment()
        for tp, records in polled.items():
            if tp in owned:
                self.consumer.seek(tp, records[0].offset)

    def _behind(self) -> bool:
        """Some assigned partition has messages past our position (as of its last fetch), or
        has not been fetched yet (its end unknown)."""
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None or end > self.consumer.position(tp):
                return True
        return False

    def _handle(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Store what was gathered, or spool what the store would not take."""
        # One insert per table of the gathering, not per message (chDB: ~25 ms an insert).
        ordered = sorted(polled, key=lambda t: (t.topic, t.partition))
        messages = merge([bytes(r.value) for tp in ordered for r in polled[tp]])
        start = 0
        if not len(self.spool) and self.backoff.due(time.monotonic()):
            while start < len(messages) and self._write(messages[start]) == "stored":
                start += 1
        if start == len(messages):
            return
        remaining = [m if isinstance(m, bytes) else m.encode() for m in messages[start:]]
        if not self.spool.fits(remaining):
            # Merged values no longer map to records: all of it comes again (what was
            # stored of it is deduplicated by token, or by the tables' natural keys).
            self._rewind(polled)
            self._pause()
            return
        self.spool.append(remaining)
        self._gauges()
        fault("after_spool", self.settings.fault_point)

    def drain(self) -> None:
        """Insert spooled batches in order while the store takes them (bounded in time)."""
        began = time.monotonic()
        budget = self.settings.spool.drain_budget_s
        while (
            not self.stopping.is_set()
            and self.backoff.due(time.monotonic())
            and time.monotonic() - began < budget
        ):
            entry = self.spool.head()
            if entry is None:
                break
            sequence, done = self._head_done
            index = done if sequence == entry.sequence else 0
            while index < len(entry.records):
                if self._write(entry.records[index]) == "retry":
                    break
                index += 1
            self._head_done = (entry.sequence, index)
            if index < len(entry.records):
                break
            self.spool.remove(entry.sequence)
            self._gauges()

    # -- one message ----------------------------------------------------------------------
    def _write(self, message: RowsMessage | bytes) -> Outcome:
        """Insert one message (bytes: from the spool, or unreadable; else decoded)."""
        if isinstance(message, bytes):
            try:
                message = RowsMessage.decode(message)
            except ValueError as exc:
                log.error("%s; skipped", exc)
                metrics.DEADLETTERS.labels(EVIDENCE_ROWS.name, "internal_format").inc()
                return "stored"
        table = message.table
        try:
            if self.injected_failures > 0:
                self.injected_failures -= 1
                raise StoreUnavailableError("injected by XBMON_FAULT_STORE_FAILURES (test only)")
            self.store.insert_json(table, message.body, dedup_token=message.token)
        except StoreError as exc:
            metrics.STORE_FAILURES.labels(table).inc()
            if not exc.retryable:
                if message.parts:  # which of the merged messages is refused?
                    return self._write_each(message.parts)
                self._refuse(message.encode(), table, exc)
                return "stored"
            metrics.STORE_RETRIES.inc()
            delay = self.backoff.failed(time.monotonic())
            log.warning("insert into %s failed (%s); spooling, retry in %.1f s", table, exc, delay)
            return "retry"
        self.backoff.succeeded()
        metrics.STORE_ROWS.labels(table).inc(message.count)
        metrics.STORE_INSERTS.labels(table).inc()
        self.latency.stored(table, message.produced_ms or [])
        fault("after_insert", self.settings.fault_point)
        return "stored"

    def _write_each(self, parts: list[RowsMessage]) -> Outcome:
        """The messages of a refused merge, one by one (each with its own token).

        A retryable failure part-way spools the whole merge: the parts stored already are
        stored again under the merge's token, and collapse by the tables' natural keys.
        """
        for part in parts:
            if self._write(part) == "retry":
                return "retry"
        return "stored"

    def _refuse(self, value: bytes, table: str, exc: StoreError) -> None:
        """Rows the store refuses (a schema mismatch) are kept aside, not retried forever."""
        log.error("store refused rows for %s: %s; kept in %s", table, exc, REFUSED_FILE)
        path: Path = self.spool.directory / REFUSED_FILE
        with path.open("ab") as handle:
            handle.write(orjson.dumps({"reason": str(exc), "message": value.decode()}) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    # -- back-pressure and gauges ---------------------------------------------------------
    def _pause(self) -> None:
        self.consumer.pause(*self.consumer.assignment())
        if not self.paused:
            self.paused = True
            metrics.PAUSES.inc()
            metrics.CONSUMPTION_PAUSED.set(1)
            log.warning(
                "spool full (%d batches, %d bytes): consumption paused",
                self.spool.batches,
                self.spool.size_bytes,
            )

    def _resume(self) -> None:
        self.consumer.resume(*self.consumer.paused())
        self.paused = False
        metrics.CONSUMPTION_PAUSED.set(0)
        log.info("spool below %.0f %%: consumption resumed", self.settings.spool.resume_ratio * 100)

    def _gauges(self) -> None:
        metrics.SPOOL_BATCHES.set(self.spool.batches)
        metrics.SPOOL_BYTES.set(self.spool.size_bytes)

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.consumer.close(autocommit=False)
        self.store.close()
        self.latency.close()


def run_store_writer(settings: Settings) -> None:
    """Blocks until SIGINT/SIGTERM."""
    # Measured when the writer decoded rows (collections were half its CPU); it now decodes
    # only headers and the sealer's findings, not re-measured since.
    tune_gc(settings.gc_threshold)
    observe_collections(metrics.GC_SECONDS)
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
