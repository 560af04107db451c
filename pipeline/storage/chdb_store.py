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
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chdb import session as chdb_session

from pipeline.settings import Settings
from pipeline.storage.base import INSERT_SETTINGS, EvidenceStore
from pipeline.storage.errors import StoreError, StoreUnavailableError
from pipeline.storage.sql import param_text

# chdb ships py.typed but its session API is unannotated: keep it behind Any here.
_Session: Any = chdb_session.Session

_INSERT_SQL = (
    "INSERT INTO {database:Identifier}.{table:Identifier} SETTINGS "
    + ", ".join(f"{name} = {value}" for name, value in INSERT_SETTINGS.items())
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

    def _run(self, sql: str, parameters: dict[str, Any], fmt: str) -> Any:
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

    def _insert_payload(self, table: str, payload: bytes, token: str) -> None:
        # The rows follow FORMAT inline: they are data, not SQL, and never parsed as such;
        # database, table and token are query parameters.
        parameters = {"database": self.database, "table": table, "token": token}
        self._run(_INSERT_SQL + payload.decode("utf-8"), parameters, "TabSeparated")
