"""Scenario: the store raises three times, then recovers.

Setup: a real broker, a real chDB store behind a wrapper whose next 3 inserts raise a
retryable error, the store writer in this process, every evidence message of a small world.
Fault: the first three inserts fail.
What must hold: every row stored exactly once (raw counts, no FINAL), and at every commit
each message below the committed position is in the store or in the spool (offsets advance
only after a message is stored or durably spooled); the spool ends empty.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY

from pipeline import store_writer
from pipeline.row_batches import RowsMessage, encode_message
from pipeline.spool import decode_entry
from pipeline.store_writer import StoreWriter


def spooled_tokens(directory: Path) -> set[str]:
    """Tokens of the messages in the spool (a merged message counts for its members)."""
    messages = [
        RowsMessage.decode(record)
        for path in directory.glob("*.batch")
        for record in decode_entry(path.read_bytes())
    ]
    return {token for message in messages for token in message.members or [message.token]}


def recording_merge(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Merged token -> the message tokens it stands for, as the writer merges them."""
    merged: dict[str, list[str]] = {}
    real = store_writer.merge

    def record(values: list[bytes]) -> list[RowsMessage | bytes]:
        out = real(values)
        for message in out:
            assert isinstance(message, RowsMessage), "every message of the world is readable"
            merged[message.token] = message.members or [message.token]
        return out

    monkeypatch.setattr(store_writer, "merge", record)
    return merged


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_store_raises_three_times_then_recovers(
    harness, evidence, flaky, counts, until, monkeypatch
) -> None:
    merged = recording_merge(monkeypatch)
    store = flaky(harness.open_store())
    store.fail_next = 3
    settings = harness.settings(spool={"retry_initial_backoff_s": 0.2})
    writer = StoreWriter(settings, store)
    violations: list[str] = []
    commits_with_spool = 0
    placed: dict[tuple[int, int], str] = {}
    commit = writer.consumer.commit

    def checked_commit() -> None:
        nonlocal commits_with_spool
        inserted = {t for token in store.inserted_tokens for t in merged.get(token, [token])}
        safe = inserted | spooled_tokens(settings.spool_dir)
        commits_with_spool += bool(writer.spool.batches)
        for tp in writer.consumer.assignment():
            position = writer.consumer.position(tp)
            for (partition, offset), token in placed.items():
                if partition == tp.partition and offset < position and token not in safe:
                    violations.append(
                        f"{partition}:{offset} committed but neither stored nor spooled"
                    )
        commit()

    writer.consumer.commit = checked_commit  # type: ignore[method-assign]
    retries_before = metric("xbmon_store_retries_total")
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        placed.update(harness.produce(evidence.values))
        until(lambda: store.failures == 3 and writer.spool.batches == 0, 60, "the spool to drain")
        until(
            lambda: counts(store) == evidence.rows,
            10,
            f"every row stored {counts(store)} {evidence.rows}",
        )
        ends = {p: 1 + max(o for (q, o) in placed if q == p) for p, _ in placed}
        until(lambda: harness.writer_committed() == ends, 30, "offsets committed to the end")
    finally:
        writer.stop()
        thread.join(10)
        writer.close()
    assert not violations, violations[:5]
    assert commits_with_spool > 0, "the failed batches went through the spool"
    assert metric("xbmon_store_retries_total") - retries_before >= 3
    assert metric("xbmon_spool_batches") == 0
    inserted = {t for token in store.inserted_tokens for t in merged.get(token, [token])}
    assert sorted(inserted) == sorted(placed.values())
    store = harness.open_store()  # reopened: what is durable, counted without FINAL
    try:
        assert counts(store) == evidence.rows
    finally:
        store.close()


def test_unreadable_messages_are_skipped_and_counted_and_the_rest_stored(
    harness, evidence, counts, until
) -> None:
    skipped_before = REGISTRY.get_sample_value(
        "xbmon_deadletters_total", {"topic": "evidence.rows", "reason": "internal_format"}
    )
    producer = harness.producer
    for value in (b"not json", b'{"table": "findings", "rows": []}'):
        producer.send(store_writer.EVIDENCE_ROWS.name, key=b"junk", value=value)
    placed = harness.produce(evidence.values)
    store = harness.open_store()
    writer = StoreWriter(harness.settings(), store)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        until(lambda: counts(store) == evidence.rows, 60, "every readable row stored")
        ends = {p: 1 + max(o for (q, o) in placed if q == p) for p, _ in placed}
        until(
            lambda: all(harness.writer_committed().get(p, 0) >= end for p, end in ends.items()),
            30,
            "offsets committed past the unreadable messages",
        )
    finally:
        writer.stop()
        thread.join(10)
        writer.close()
    skipped = REGISTRY.get_sample_value(
        "xbmon_deadletters_total", {"topic": "evidence.rows", "reason": "internal_format"}
    )
    assert (skipped or 0) - (skipped_before or 0) == 2


def inserts() -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "xbmon_store_inserts"
        for sample in family.samples
        if sample.name == "xbmon_store_inserts_total"
    )


def test_a_backlog_is_gathered_into_one_insert_per_table_and_a_trickle_goes_at_once(
    harness, evidence, counts, until
) -> None:
    placed = harness.produce(evidence.values)
    assert len({partition for partition, _ in placed}) > 1, "the backlog spans partitions"
    store = harness.open_store()
    # Five messages a poll, so the backlog takes many; each waits up to 1 s for more (a broker
    # round trip never ends the gathering early here), the gathering may last 20 s: only
    # being caught up ends it sooner.
    gathering = {"gather_s": 20, "gather_poll_ms": 1000, "max_poll_records": 5}
    assert len(evidence.values) > 5 * 3
    writer = StoreWriter(harness.settings(writer=gathering), store)
    before = inserts()
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        until(lambda: counts(store) == evidence.rows, 30, "the backlog stored")
        tables = sum(1 for rows in evidence.rows.values() if rows)
        assert inserts() - before == tables, f"{len(evidence.values)} messages, {tables} tables"
        trickle = [v for v in evidence.values if b'"table":"alerts"' in v][:1]
        assert trickle, "the world raises alerts"
        sent = time.monotonic()
        harness.produce([trickle[0].replace(b'"token":"', b'"token":"again-', 1)])
        until(lambda: inserts() - before == tables + 1, 10, "the trickle stored")
        assert time.monotonic() - sent < 5, "a writer caught up inserts at once, not after 20 s"
    finally:
        writer.stop()
        thread.join(10)
        writer.close()


def test_a_refused_message_is_kept_aside_and_its_poll_mates_are_stored(
    harness, evidence, counts, until, monkeypatch
) -> None:
    """The store refuses a merge when any of its messages is bad (an unknown column, rows
    that are not JSON): the writer retries the merge's messages one by one, stores the good
    ones and keeps only the bad ones aside (`refused.jsonl`), with the store's reason."""
    merged = recording_merge(monkeypatch)
    bad = [
        encode_message("findings", "bad|column#0", orjson.dumps([{"bogus_column": 1}]), 1),
        encode_message("findings", "bad|json#0", b'[{"finding_id":]', 1),
    ]
    middle = len(evidence.values) // 2
    harness.produce([*evidence.values[:middle], *bad, *evidence.values[middle:]])
    store = harness.open_store()
    writer = StoreWriter(harness.settings(), store)  # everything waits: one gathering
    refused = writer.spool.directory / store_writer.REFUSED_FILE
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        until(lambda: counts(store) == evidence.rows, 60, "every good row stored")
        until(lambda: refused.exists() and len(refused.read_bytes().splitlines()) == 2, 10, "")
    finally:
        writer.stop()
        thread.join(10)
        writer.close()
    kept = [orjson.loads(line) for line in refused.read_bytes().splitlines()]
    tokens = [RowsMessage.decode(entry["message"].encode()).token for entry in kept]
    assert sorted(tokens) == ["bad|column#0", "bad|json#0"]
    assert all(entry["reason"] for entry in kept)
    assert any("bad|column#0" in members and len(members) > 1 for members in merged.values()), (
        "the bad message was merged with good ones"
    )
