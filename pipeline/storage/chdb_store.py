"""The embedded backend: chDB (ClickHouse 26.9 in-process) on `data_dir/chdb`.

chDB runs one embedded engine per process, bound to one data directory (NOTES.md, measured
with chdb 4.4.0):
- a session on a second path while one is open fails ("EmbeddedServer already initialized
  with path ..."); once every session is closed the engine can be opened on another path;
- a path is locked to one process: a second process opening it fails, so run one xbmon
  process per data directory (the worker owns the embedded store; other processes read
  through it or use the server backend).
So this module keeps one process-wide session, reference-counted: every `ChdbStore` on the
same directory shares it (each may use its own database), the last `close()` closes it, and
opening a store on a different directory while it is open is a `StoreUnavailableError`.
Calls are serialised on the session's lock. A child process after `fork()` forgets the
parent's session (it cannot use it) and opens its own.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from chdb import session as chdb_session

from pipeline.settings import Settings
from pipeline.storage.base import INSERT_SETTINGS, EvidenceStore
from pipeline.storage.errors import StoreError, StoreUnavailableError
from pipeline.storage.sql import param_text

# chdb ships py.typed but its session API is unannotated: keep it behind Any here.
_Session: Any = chdb_session.Session

#: Arrow types the columnar insert takes as they are; anything else (timestamps from datetime
#: objects, say) goes through JSONEachRow, whose encoder checks and formats it.
_PLAIN_ARROW = (
    pa.types.is_string,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_null,
    pa.types.is_boolean,
)

_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_SETTINGS_SQL = ", ".join(f"{name} = {value}" for name, value in INSERT_SETTINGS.items())
_INSERT_SQL = (
    "INSERT INTO {database:Identifier}.{table:Identifier} SETTINGS "
    + _SETTINGS_SQL
    + ", insert_deduplication_token = {token:String} FORMAT JSONEachRow\n"
)


@dataclass
class _SharedSession:
    path: Path
    session: Any
    refs: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)


_registry_lock = threading.Lock()
_shared: _SharedSession | None = None


def _forget_after_fork() -> None:
    global _shared, _registry_lock
    _shared = None
    _registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def active_path() -> Path | None:
    """The directory of this process's open chDB session, or None when none is open."""
    with _registry_lock:
        return None if _shared is None else _shared.path


def _acquire(path: Path) -> _SharedSession:
    global _shared
    with _registry_lock:
        if _shared is None:
            path.mkdir(parents=True, exist_ok=True)
            try:
                opened = _Session(str(path))
                opened.query("SET session_timezone = 'UTC'")
            except Exception as exc:  # chDB raises RuntimeError subclasses
                raise StoreUnavailableError(
                    f"cannot open chDB on {path}: {exc} (a chDB data directory is locked to one "
                    "process; is another xbmon process using it?)"
                ) from exc
            _shared = _SharedSession(path=path, session=opened)
        elif _shared.path != path:
            raise StoreUnavailableError(
                f"chDB is already open on {_shared.path} in this process and cannot open "
                f"{path} too: chDB runs one engine per process on one data directory"
            )
        _shared.refs += 1
        return _shared


def _release(shared: _SharedSession) -> None:
    global _shared
    with _registry_lock:
        shared.refs -= 1
        if shared.refs > 0 or _shared is not shared:
            return
        _shared = None
        with shared.lock:
            shared.session.close()


class ChdbStore(EvidenceStore):
    """Evidence store on the process-wide chDB session at `data_dir/chdb`."""

    backend = "chdb"
    #: Below this many rows JSONEachRow is the faster insert: an Arrow insert costs ~10 ms
    #: however small (chDB resolves the `Python()` table), JSONEachRow ~5 ms for 10 rows;
    #: they cross near 1,000 rows (measured: 10 / 100 / 1,000 rows, 5.1 / 7.2 / 20.1 ms
    #: JSON, 10.7 / 11.2 / 17.9 ms Arrow).
    arrow_min_rows = 1000

    def __init__(self, data_dir: Path, database: str, retention_days: int) -> None:
        super().__init__(database, retention_days)
        self.path = (Path(data_dir) / "chdb").resolve()
        self._shared: _SharedSession | None = _acquire(self.path)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChdbStore:
        ch = settings.clickhouse
        return cls(settings.data_dir, ch.database, ch.retention_days)

    def close(self) -> None:
        shared, self._shared = self._shared, None
        if shared is not None:
            _release(shared)

    def _run(self, sql: str, parameters: dict[str, Any], fmt: str, arrow_rows: Any = None) -> Any:
        """Run one statement; `Python(arrow_rows)` in it reads the table passed here.

        chDB finds a `Python()` table by its variable name in the calling frame, hence the
        parameter's name.
        """
        shared = self._shared
        if shared is None:
            raise StoreError("the store is closed")
        texts = {name: param_text(value) for name, value in parameters.items()}
        with shared.lock:
            try:
                return shared.session.query(sql, fmt, params=texts)
            except Exception as exc:  # ChdbError (a RuntimeError) carries the engine's message
                raise StoreError(str(exc).strip()) from exc

    def _execute(self, sql: str, parameters: dict[str, Any]) -> None:
        self._run(sql, parameters, "TabSeparated")

    def _select(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        table = self._run(sql, parameters, "ArrowTable")
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows

    def _insert_chunk(self, table: str, rows: Sequence[Mapping[str, Any]], token: str) -> None:
        """Rows as one Arrow table, read by chDB's `Python()` table function.

        For callers holding row dicts (replay, the world loader, the evidence log): columns
        go in at ~240k rows/s against ~100k for ClickHouse parsing JSONEachRow. A small chunk
        (see `arrow_min_rows`), or one Arrow cannot type plainly (mixed types in a column,
        datetime objects), takes JSONEachRow. The store writer holds no dicts: it inserts
        the workers' JSON as it is (`insert_json`), cheaper than building dicts, then
        columns, in Python.
        """
        arrow_rows = arrow_table(rows) if len(rows) >= self.arrow_min_rows else None
        if arrow_rows is None:
            super()._insert_chunk(table, rows, token)
            return
        self.insert_arrow(table, arrow_rows, token)

    def insert_arrow(self, table: str, arrow_rows: pa.Table, token: str) -> None:
        """Insert an Arrow table of plain columns named like the table's, once per `token`."""
        # ClickHouse takes no identifier parameters in an INSERT's column list; the names come
        # from the topic, so only plain ones are spelled out.
        if not all(_COLUMN_NAME.fullmatch(name) for name in arrow_rows.column_names):
            raise StoreError(f"column names must match {_COLUMN_NAME.pattern}")
        columns = ", ".join(f"`{name}`" for name in arrow_rows.column_names)
        sql = (
            f"INSERT INTO {{database:Identifier}}.{{table:Identifier}} ({columns}) SETTINGS "
            + _SETTINGS_SQL
            + f", insert_deduplication_token = {{token:String}} SELECT {columns} "
            "FROM Python(arrow_rows)"
        )
        parameters = {"database": self.database, "table": table, "token": token}
        self._run(sql, parameters, "TabSeparated", arrow_rows)

    def _insert_payload(self, table: str, payload: bytes, token: str) -> None:
        # The rows follow FORMAT inline: they are data, not SQL, and never parsed as such;
        # database, table and token are query parameters.
        parameters = {"database": self.database, "table": table, "token": token}
        self._run(_INSERT_SQL + payload.decode("utf-8"), parameters, "TabSeparated")


def arrow_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table | None:
    """Rows as an Arrow table of plain columns (missing keys as nulls), or None."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    if not all(_COLUMN_NAME.fullmatch(name) for name in names):
        return None  # JSONEachRow refuses an unknown key with ClickHouse's own message
    try:
        table = pa.table({name: [row.get(name) for row in rows] for name in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    for index, (column, values) in enumerate(zip(table.schema, table.columns, strict=True)):
        listed = pa.types.is_list(column.type)
        if listed and values.null_count:
            return None  # NULL is no Array: JSONEachRow reads it as the column's default
        kind = column.type.value_type if listed else column.type
        if listed and pa.types.is_null(kind):  # only empty lists: ClickHouse casts no Nothing
            table = table.set_column(index, column.name, values.cast(pa.list_(pa.string())))
        elif not any(test(kind) for test in _PLAIN_ARROW):
            return None
    return table
