"""chDB honours `insert_deduplication_token` on every table the store writer fills.

Setup: the real DDL in chDB with merges off; a message's rows for each table.
What must hold: the same rows sent twice with the same token are stored once; sent with
another token they are stored again (so a raw count would show a duplicate: the check in the
kill and outage scenarios can fail).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from pipeline.storage import deadletter_row


def test_same_token_stored_once_on_every_writer_table(harness, evidence, counts) -> None:
    by_table: dict[str, list[dict]] = {}
    for value in evidence.values:
        message = orjson.loads(value)
        by_table.setdefault(message["table"], message["rows"])
    by_table["deadletters"] = [
        deadletter_row(
            source_topic="transfer.logs",
            source_partition=0,
            source_offset=7,
            index_in_batch=-1,
            reason="invalid JSON: test",
            raw=b"\xff{",
            received_at=datetime(2026, 11, 22, tzinfo=UTC),
        )
    ]
    store = harness.open_store()
    try:
        assert set(by_table) == {
            "transfers",
            "findings",
            "flow_windows",
            "alerts",
            "scores",
            "deadletters",
        }
        for table, rows in by_table.items():
            for _ in range(3):
                store.insert(table, rows, dedup_token=f"{table}|transfer.logs:0:1-2#0")
            assert counts(store)[table] == len(rows), table
            store.insert(table, rows, dedup_token=f"{table}|transfer.logs:0:3-4#0")
            assert counts(store)[table] == 2 * len(rows), f"{table}: merges must be off"
    finally:
        store.close()
