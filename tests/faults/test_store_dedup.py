"""chDB honours `insert_deduplication_token` on every table the store writer fills.

Setup: the real DDL in chDB with merges off; a message's rows for each table.
What must hold: the same rows sent twice with the same token are stored once; sent with
another token they are stored again (so a raw count would show a duplicate: the check in the
kill and outage scenarios can fail).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.row_batches import RowsMessage
from pipeline.storage import deadletter_row
from pipeline.store_writer import row_messages


def test_same_token_stored_once_on_every_writer_table(harness, evidence, counts) -> None:
    by_table: dict[str, RowsMessage] = {}
    for value in evidence.values:
        message = RowsMessage.decode(value)
        by_table.setdefault(message.table, message)
    dead = [
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
    by_table["deadletters"] = RowsMessage.decode(next(row_messages("deadletters", dead, "d")))
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
        for table, message in by_table.items():  # as the store writer inserts them
            for _ in range(3):
                store.insert_json(table, message.body, f"{table}|transfer.logs:0:1-2#0")
            assert counts(store)[table] == message.count, table
            store.insert_json(table, message.body, f"{table}|transfer.logs:0:3-4#0")
            assert counts(store)[table] == 2 * message.count, f"{table}: merges must be off"
    finally:
        store.close()
