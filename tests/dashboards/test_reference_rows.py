"""The reference register reaches the store the way the store writer gets it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from pipeline.config import default_rules_config
from pipeline.reference_rows import reference_row_messages
from pipeline.row_batches import RowsMessage
from pipeline.storage import chdb_store
from pipeline.storage.chdb_store import ChdbStore
from pipeline.synth import synthesize
from pipeline.topics import EVIDENCE_ROWS

NOW = datetime(2025, 3, 10, tzinfo=UTC)


def test_store_writer_messages_insert_the_register_once(tmp_path: Path) -> None:
    world = synthesize(enterprises=8, days=1, seed=2)
    messages = reference_row_messages(
        [*world.enterprises, *world.filings, *world.negative_list], NOW
    )
    assert {topic for topic, _, _ in messages} == {EVIDENCE_ROWS.name}
    active = chdb_store.active_path()  # chDB: one directory per process
    data_dir = active.parent if active is not None else tmp_path
    store = ChdbStore(data_dir, f"xbmon_ref_{uuid.uuid4().hex[:8]}", 1100)
    try:
        store.ensure_schema()
        for _ in range(2):  # redelivered: the same tokens, stored once
            for _, _, value in messages:
                message = RowsMessage.decode(value)  # as the store writer inserts it
                store.insert_json(message.table, message.body, dedup_token=message.token)
        counts = {
            table: store.query(f"SELECT count() AS n FROM {{database:Identifier}}.{table}")[0]["n"]
            for table in ("enterprises", "filings")
        }
        assert counts == {"enterprises": len(world.enterprises), "filings": len(world.filings)}
        config = default_rules_config()
        rows = {
            r["filing_id"]: r
            for r in store.query("SELECT * FROM {database:Identifier}.filings FINAL")
        }
        for filing in world.filings:
            row = rows[filing.filing_id]
            if filing.valid_until is None and filing.kind == "security_assessment":
                # the engine's three-year default, stored so SQL need not re-implement it
                assert row["valid_until_effective"] is not None
                assert (
                    row["valid_until_effective"].year
                    == filing.valid_from.astimezone(config.zone).year
                    + config.assessment_validity_years
                )
            elif filing.valid_until is not None:
                assert row["valid_until_effective"] == filing.valid_until.astimezone(UTC)
    finally:
        store.query("DROP DATABASE IF EXISTS {database:Identifier}")
        store.close()
