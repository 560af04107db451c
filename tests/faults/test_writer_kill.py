"""Scenarios: SIGKILL of the store writer after an insert and before its commit, during a
spool write, and after a spool write but before the commit.

Setup: a real broker, `xbmon store-writer` as a child process on a chDB directory, every
evidence message of a small world on `evidence.rows`.
Fault: the writer SIGKILLs itself at the fault point (XBMON_FAULT_POINT, test only); for the
spool points its first insert fails first (XBMON_FAULT_STORE_FAILURES=1), so it spools.
What must hold after a restart without faults: every row stored exactly once (raw counts,
merges stopped: a duplicate insert would show), the spool empty, offsets committed to the end.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("point", "store_failures"),
    [("after_insert", 0), ("spool_write", 1), ("after_spool", 1)],
)
def test_sigkill_then_restart_loses_and_duplicates_nothing(
    harness, evidence, counts, until, point: str, store_failures: int
) -> None:
    store = harness.open_store()  # schema created, merges stopped in this chDB directory
    store.close()
    placed = harness.produce(evidence.values)
    ends = {p: 1 + max(o for (q, o) in placed if q == p) for p, _ in placed}

    doomed = harness.spawn_writer(
        "killed", XBMON_FAULT_POINT=point, XBMON_FAULT_STORE_FAILURES=str(store_failures)
    )
    assert doomed.wait(60) == -signal.SIGKILL, "the writer reached its fault point"
    spool = harness.root / "spool"
    if point == "spool_write":
        assert list(spool.glob("*.tmp")), "killed with a spool file half written"
    if point == "after_spool":
        assert list(spool.glob("*.batch")), "killed with a batch spooled but not committed"
    assert harness.writer_committed() != ends, "killed before committing everything"

    survivor = harness.spawn_writer("restarted")
    try:
        until(lambda: harness.writer_committed() == ends, 60, "offsets committed to the end")
        until(lambda: not list(spool.glob("*.batch")), 30, "the spool drained")
    finally:
        survivor.send_signal(signal.SIGTERM)
        try:
            survivor.wait(20)
        except subprocess.TimeoutExpired:
            survivor.kill()
            survivor.wait()
    assert survivor.returncode == 0
    assert not list(spool.glob("*.tmp")), "the torn write was discarded"
    store = harness.open_store()
    try:
        assert counts(store) == evidence.rows
    finally:
        store.close()
