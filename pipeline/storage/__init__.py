"""The evidence store: ClickHouse through one small interface, chDB or a server.

    store = open_store(settings)        # chDB on settings.data_dir/chdb, or a server
    store.ensure_schema()               # applies schemas/clickhouse/NNN_*.sql once each
    store.insert("findings", [finding_row(f) for f in findings], dedup_token="findings:3:100-199")
    fetch_findings(store, enterprise_id=...)   # FINAL-safe: each finding once
    store.close()

No client object leaves this package. See `base` for how exactly-once storage works.
"""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.storage.base import (
    DATA_TABLES,
    EvidenceStore,
    deadletter_raw,
    deadletter_row,
    fetch_deadletters,
    fetch_evaluated_findings,
    fetch_findings,
    fetch_transfers,
    fetch_windows,
    finding_row,
    transfer_row,
    window_row,
)
from pipeline.storage.errors import MigrationError, StoreError, StoreUnavailableError

__all__ = [
    "DATA_TABLES",
    "EvidenceStore",
    "MigrationError",
    "StoreError",
    "StoreUnavailableError",
    "deadletter_raw",
    "deadletter_row",
    "fetch_deadletters",
    "fetch_evaluated_findings",
    "fetch_findings",
    "fetch_transfers",
    "fetch_windows",
    "finding_row",
    "open_store",
    "transfer_row",
    "window_row",
]


def open_store(settings: Settings) -> EvidenceStore:
    """The store `settings.clickhouse.backend` names; the caller closes it."""
    if settings.clickhouse.backend == "chdb":
        from pipeline.storage.chdb_store import ChdbStore

        return ChdbStore.from_settings(settings)
    from pipeline.storage.server_store import ServerStore

    return ServerStore.from_settings(settings.clickhouse)
