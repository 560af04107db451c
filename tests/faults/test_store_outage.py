"""Scenario: the store is unavailable for a while under load.

Setup: a real broker and chDB; the store writer in this process with a small spool (2 MiB);
a producer thread sending 100 KB evidence messages (20 rows) at a steady rate throughout.
Fault: every insert fails for 12 s (tens of seconds is enough here: the spool bound, not
the duration, is what is exercised; minutes only add more of the same).
What must hold: the spool fills up to its bound and no further, consumption pauses (the rows
wait in Kafka), the process's RSS stays flat (well under the volume produced); once the store
is back the spool drains, consumption resumes, and every message is stored exactly once.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from pipeline.storage import deadletter_row
from pipeline.store_writer import StoreWriter, row_messages

pytestmark = pytest.mark.slow

ROWS_PER_MESSAGE = 20
ROW_BYTES = 5_000
MESSAGE_BYTES = ROWS_PER_MESSAGE * ROW_BYTES
RATE = 30  # messages per second: ~3 MB/s, 600 rows/s
OUTAGE_S = 12.0
SPOOL_BYTES = 2 << 20


def load_message(index: int) -> bytes:
    rows = [
        deadletter_row(
            source_topic="transfer.logs",
            source_partition=index % 4,
            source_offset=index,
            index_in_batch=position,
            reason="load",
            raw=(f"{index:08d}" * (ROW_BYTES // 8)).encode(),
            received_at=datetime(2026, 11, 22, tzinfo=UTC),
        )
        for position in range(ROWS_PER_MESSAGE)
    ]
    return next(row_messages("deadletters", rows, f"deadletters|load:{index}"))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_outage_under_load_spools_pauses_and_drains(harness, flaky, counts, until) -> None:
    store = flaky(harness.open_store(merges=True))  # every row its own key: counts exact
    settings = harness.settings(
        spool={
            "max_bytes": SPOOL_BYTES,
            "retry_initial_backoff_s": 0.2,
            "retry_max_backoff_s": 1.0,
        }
    )
    writer = StoreWriter(settings, store)
    pauses_before = gauge("xbmon_pauses_total")
    sent = 0
    producing = threading.Event()
    producing.set()

    def produce() -> None:
        nonlocal sent
        began = time.monotonic()
        while producing.is_set():
            due = int((time.monotonic() - began) * RATE)
            if due > sent:
                harness.produce([load_message(i) for i in range(sent, due)])
                sent = due
            time.sleep(0.05)

    thread = threading.Thread(target=writer.run, daemon=True)
    producer = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        until(lambda: gauge("xbmon_worker_ready") == 1, 10, "the writer")
        store.down.set()
        time.sleep(3)  # chDB's and the clients' own start-up allocations are not the point
        rss_start = rss_bytes()
        producer.start()
        peak_rss, peak_spool = rss_start, 0.0
        outage_end = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_end:
            peak_rss = max(peak_rss, rss_bytes())
            peak_spool = max(peak_spool, gauge("xbmon_spool_bytes"))
            time.sleep(0.2)
        produced_in_outage = sent * MESSAGE_BYTES
        assert gauge("xbmon_consumption_paused") == 1, "a full spool pauses consumption"
        assert gauge("xbmon_pauses_total") > pauses_before
        # Bounded (an empty spool takes any one batch, but a poll returns at most ~1 MiB of a
        # partition, below the bound here).
        assert SPOOL_BYTES / 2 < peak_spool <= SPOOL_BYTES
        assert produced_in_outage > 10 * SPOOL_BYTES, "the outage produced far more than fits"
        assert peak_rss - rss_start < 48 << 20, (
            f"RSS grew {(peak_rss - rss_start) >> 20} MiB while {produced_in_outage >> 20} MiB "
            "were produced"
        )
        store.down.clear()  # the store is back, the load goes on for a few seconds
        time.sleep(3)
        producing.clear()
        producer.join(10)
        until(
            lambda: counts(store)["deadletters"] == sent * ROWS_PER_MESSAGE,
            90,
            f"{sent} messages stored",
        )
        until(lambda: gauge("xbmon_spool_batches") == 0, 30, "the spool drained")
        until(lambda: gauge("xbmon_consumption_paused") == 0, 10, "consumption resumed")
    finally:
        producing.clear()
        writer.stop()
        thread.join(10)
        writer.close()
    print(  # the README quotes these figures
        f"outage {OUTAGE_S:.0f} s: {sent} messages, {produced_in_outage >> 20} MiB produced "
        f"during it, spool peak {int(peak_spool) >> 10} KiB, "
        f"RSS +{(peak_rss - rss_start) >> 20} MiB"
    )
    store = harness.open_store(merges=True)
    try:
        assert counts(store)["deadletters"] == sent * ROWS_PER_MESSAGE
    finally:
        store.close()
