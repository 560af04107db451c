"""The evidence store contract, its shared logic, row builders and FINAL-safe readers.

One small interface (`ensure_schema`, `insert`, `query`, `close`) with two backends: chDB
in-process (`chdb_store`) and a ClickHouse server through clickhouse-connect
(`server_store`). Both run the same DDL (`schemas/clickhouse/*.sql`), the same reads
(`pipeline/storage/queries/*.sql`) and the same insert bytes (JSONEachRow); a backend only
supplies three primitives: execute a statement, select rows, insert a payload. chDB also
inserts a chunk of plain JSON values as Arrow columns (`ChdbStore.insert_arrow`), with the
same deduplication token.

Exactly once in storage, from at-least-once delivery (NOTES.md "ClickHouse: exactly once"):
1. every insert carries an `insert_deduplication_token` and the tables keep a block
   deduplication log (`non_replicated_deduplication_window`), so a retried batch is dropped
   by ClickHouse at insert time. The token is the caller's `dedup_token` (derive it from the
   source topic, partition and offsets) or, without one, the SHA-256 of the payload: server
   defaults such as `inserted_at DEFAULT now64()` differ between two sends of the same rows
   and would defeat ClickHouse's own block hash;
2. the tables are ReplacingMergeTree on the natural deterministic key, so a row redelivered in
   a different batch collapses at merge;
3. until the merge happens, readers use FINAL plus `LIMIT 1 BY <key>` (the `fetch_*`
   functions here): what is read is one row per key whatever the state of the parts.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Final, Self

import orjson

from pipeline.rules import ENGINE_VERSION
from pipeline.rules.evidence import canonical_hash, canonical_json
from pipeline.rules.findings import EvaluatedFinding
from pipeline.rules.state import WindowAggregate
from pipeline.storage.errors import MigrationError, StoreError
from pipeline.storage.migrations import Migration, discover
from pipeline.storage.sql import (
    bind,
    check_identifier,
    format_datetime_utc,
    format_instant_utc,
    load_query,
)
from pipeline.wire import raw_as_text
from schemas.models import Finding, TransferLog
from schemas.types import RequiredPath

#: Tables callers write to; `schema_migrations` is written by `ensure_schema` only.
DATA_TABLES: Final = frozenset(
    {"transfers", "flow_windows", "findings", "deadletters", "alerts", "alert_actions", "scores"}
    | {"evidence_leaves", "tree_heads"}  # the evidence log (pipeline/evidence_log)
    | {"enterprises", "filings"}  # the reference register (dashboards, report)
)
MIGRATIONS_TABLE: Final = "schema_migrations"

#: Rows per INSERT statement: bounds memory; each chunk is deduplicated on its own token.
MAX_ROWS_PER_INSERT: Final = 50_000
_MAX_TOKEN_LENGTH: Final = 1000
_NO_LIMIT: Final = 2**64 - 1

#: Settings of every insert, both backends (names checked against system.settings, 26.9).
#: async_insert is on by default in ClickHouse 26.x; a synchronous insert keeps block
#: deduplication by token independent of async_insert_deduplicate on older servers.
#: Unknown JSON keys are an error, not silently dropped.
INSERT_SETTINGS: Final[Mapping[str, int]] = {
    "async_insert": 0,
    "input_format_skip_unknown_fields": 0,
}


class EvidenceStore(ABC):
    """A ClickHouse database holding xbmon's evidence; one instance per database.

    Thread-safe: the chDB backend serialises calls on its process-wide session, the server
    backend's HTTP client is safe to share. Use as a context manager or call `close()`.
    """

    backend: str = "abstract"

    def __init__(self, database: str, retention_days: int) -> None:
        self.database = check_identifier(database, "database")
        if type(retention_days) is not int or retention_days < 1:
            raise StoreError(f"retention_days must be a positive int, got {retention_days!r}")
        self.retention_days = retention_days

    # -- the interface ------------------------------------------------------------------

    def ensure_schema(self, migrations: Sequence[Migration] | None = None) -> list[str]:
        """Apply the DDL files not yet applied; return their names (empty when up to date).

        Idempotent. Refuses (MigrationError) an applied file whose SHA-256 changed, a ledger
        entry this code has no file for, and a retention setting different from the one the
        tables' TTL was rendered with (change retention with a new migration that runs
        `ALTER TABLE ... MODIFY TTL` with `{{retention_days}}`).
        """
        todo = list(migrations) if migrations is not None else discover()
        if not todo or todo[0].version != 0:
            raise MigrationError("the first migration must be 000, the bootstrap")
        for statement in todo[0].statements(self.retention_days):
            self._execute(statement, bind(statement, None, self.database))
        ledger = {int(row["version"]): row for row in self.query(load_query(MIGRATIONS_TABLE))}
        unknown = sorted(set(ledger) - {m.version for m in todo})
        if unknown:
            names = ", ".join(str(ledger[v]["name"]) for v in unknown)
            raise MigrationError(
                f"database {self.database} has migrations this code does not know: {names}"
            )
        pending: list[Migration] = []
        rendered_retention: int | None = None  # by the last applied file that renders a TTL
        for migration in todo:
            row = ledger.get(migration.version)
            if row is None:
                pending.append(migration)
                continue
            if row["sha256"] != migration.sha256 or row["name"] != migration.name:
                raise MigrationError(
                    f"{migration.name} changed after it was applied to {self.database} "
                    f"(ledger: {row['name']} sha256 {row['sha256']}, file: sha256 "
                    f"{migration.sha256}); migrations are append-only, add a new file"
                )
            if migration.uses_retention:
                rendered_retention = int(row["retention_days"])
        if rendered_retention not in (None, self.retention_days) and not any(
            m.uses_retention for m in pending
        ):
            raise MigrationError(
                f"the TTL of {self.database} keeps {rendered_retention} days but retention_days "
                f"is {self.retention_days}; add a migration that runs ALTER TABLE ... MODIFY TTL "
                "with {{retention_days}} on every table"
            )
        applied: list[str] = []
        for migration in pending:
            for statement in migration.statements(self.retention_days):
                self._execute(statement, bind(statement, None, self.database))
            self._insert_rows(
                MIGRATIONS_TABLE,
                [
                    {
                        "version": migration.version,
                        "name": migration.name,
                        "sha256": migration.sha256,
                        "retention_days": self.retention_days,
                    }
                ],
                None,
            )
            applied.append(migration.name)
        return applied

    def insert(self, table: str, rows: list[dict[str, Any]], dedup_token: str | None = None) -> int:
        """Write rows to a table, idempotently; return how many rows were sent.

        Rows are dicts of column values (use `finding_row` & co.); datetimes must be aware.
        The same rows with the same `dedup_token` are stored once however often they are
        sent. Large batches go in chunks of MAX_ROWS_PER_INSERT, chunk i deduplicated on
        `dedup_token#i` (chunk 0 on `dedup_token` itself).
        """
        self._check_table(table)
        return self._insert_rows(table, rows, dedup_token)

    def insert_json(self, table: str, body: bytes, dedup_token: str) -> None:
        """Write rows already encoded as one JSON array of objects, once per `dedup_token`.

        The store writer's path: the rows travel encoded from the workers and ClickHouse
        parses them (JSONEachRow reads an array), so the writer never builds them in Python.
        A malformed body or row is a non-retryable `StoreError` with ClickHouse's message.
        """
        self._check_table(table)
        self._check_token(dedup_token)
        self._insert_payload(table, body, dedup_token)

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement with `{name:Type}` parameters; rows as dicts, datetimes in UTC.

        `{database:Identifier}` is bound to this store's database unless given. Values are
        sent as query parameters, never formatted into the SQL.
        """
        rows = self._select(sql, bind(sql, parameters, self.database))
        for row in rows:
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = _as_utc(value)
        return rows

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- what a backend supplies --------------------------------------------------------

    @abstractmethod
    def _execute(self, sql: str, parameters: dict[str, Any]) -> None:
        """Run a statement that returns nothing (DDL)."""

    @abstractmethod
    def _select(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a statement and return its rows."""

    @abstractmethod
    def _insert_payload(self, table: str, payload: bytes, token: str) -> None:
        """INSERT JSONEachRow bytes into `database.table` with INSERT_SETTINGS and the token."""

    # -- shared -------------------------------------------------------------------------

    def _insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], dedup_token: str | None
    ) -> int:
        if dedup_token is not None:
            self._check_token(dedup_token)
        for index, chunk in enumerate(_chunks(rows, MAX_ROWS_PER_INSERT)):
            if dedup_token is None:  # the token is the content's: JSON is its canonical form
                payload = encode_rows(chunk)
                token = "sha256:" + hashlib.sha256(table.encode() + b"\0" + payload).hexdigest()
                self._insert_payload(table, payload, token)
            else:
                token = dedup_token if index == 0 else f"{dedup_token}#{index}"
                self._insert_chunk(table, chunk, token)
        return len(rows)

    @staticmethod
    def _check_table(table: str) -> None:
        if table not in DATA_TABLES:
            raise StoreError(f"unknown table {table!r}; expected one of {sorted(DATA_TABLES)}")

    @staticmethod
    def _check_token(token: str) -> None:
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_LENGTH:
            raise StoreError(f"dedup_token must be a non-empty str of at most {_MAX_TOKEN_LENGTH}")

    def _insert_chunk(self, table: str, rows: Sequence[Mapping[str, Any]], token: str) -> None:
        """Insert one chunk under `token`: JSONEachRow, unless a backend has a faster way."""
        self._insert_payload(table, encode_rows(rows), token)


def _chunks(rows: Sequence[Mapping[str, Any]], size: int) -> Iterator[Sequence[Mapping[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__}")


_ROW_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE


def encode_rows(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Rows as JSONEachRow bytes, datetimes as UTC `YYYY-MM-DD hh:mm:ss.ffffff`."""
    try:
        return b"".join(
            orjson.dumps(row, default=_json_default, option=_ROW_OPTIONS) for row in rows
        )
    except orjson.JSONEncodeError as exc:
        raise StoreError(f"row cannot be stored: {_unencodable(rows) or exc}") from exc


def _unencodable(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Which value orjson refused (its own message does not say)."""
    for row in rows:
        for column, value in row.items():
            try:
                _json_default(value)
            except StoreError as exc:
                return f"{column}: {exc}"
            except TypeError:
                continue
    return None


def _as_utc(value: datetime) -> datetime:
    # Every column is declared with 'UTC' and both backends run with session_timezone UTC,
    # so a naive value (clickhouse-connect's default for UTC columns) is UTC already.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- rows ---------------------------------------------------------------------------------
# Row builders return values ready to encode: datetimes already as UTC text (formatting them
# here is ~40 % faster than orjson's per-value fallback in `encode_rows`).


def finding_row(
    evaluated: EvaluatedFinding, *, inserted_at: datetime | None = None
) -> dict[str, Any]:
    """A `findings` row: the Finding's fields, its canonical bundle and the engine version.

    Refuses a finding whose bundle does not hash to its `evidence_hash` (the stored evidence
    must verify).
    """
    finding = evaluated.finding
    bundle = evaluated.canonical or canonical_json(evaluated.bundle)
    if canonical_hash(bundle) != finding.evidence_hash:
        raise StoreError(f"finding {finding.finding_id}: bundle does not hash to evidence_hash")
    row: dict[str, Any] = {
        "finding_id": finding.finding_id,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "enterprise_id": finding.enterprise_id,
        "transfer_id": finding.transfer_id,
        "ts": format_datetime_utc(finding.ts),
        "required_path": finding.required_path,
        "filing_ids": list(finding.filing_ids),
        "explanation": finding.explanation,
        "explanation_zh": finding.explanation_zh,
        "evidence_hash": finding.evidence_hash,
        "bundle": bundle.decode(),
        "engine_version": str(evaluated.bundle.get("engine_version", ENGINE_VERSION)),
    }
    if inserted_at is not None:
        row["inserted_at"] = format_datetime_utc(inserted_at)
    return row


def transfer_row(
    log: TransferLog,
    *,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    required_path: RequiredPath | None = None,
    ingested_at: datetime | None = None,
) -> dict[str, Any]:
    """A `transfers` row: every TransferLog field, the decision and where the log came from.

    Without `ingested_at` the database's clock stamps the row.
    """
    row = dict(log.__dict__)  # a flat model's fields as they are (model_dump: 6 % of a batch)
    row["ts"] = format_instant_utc(log.ts)
    if log.received_at is not None:
        row["received_at"] = format_instant_utc(log.received_at)
    row.update(
        required_path=required_path,
        source_topic=source_topic,
        source_partition=source_partition,
        source_offset=source_offset,
    )
    if ingested_at is not None:
        row["ingested_at"] = format_datetime_utc(ingested_at)
    return row


def window_row(
    enterprise_id: str,
    country: str,
    window_start: datetime,
    aggregate: WindowAggregate,
    *,
    closed_at: datetime,
) -> dict[str, Any]:
    """A `flow_windows` row for a closed reconciliation window."""
    return {
        "enterprise_id": enterprise_id,
        "country": country,
        "window_start": format_datetime_utc(window_start),
        "declared_bytes": aggregate.declared_bytes,
        "declared_logs": aggregate.declared_logs,
        "declared_categories": sorted(aggregate.declared_categories),
        "observed_bytes": aggregate.observed_bytes,
        "observed_flows": aggregate.observed_flows,
        "observed_dlp": sorted(aggregate.observed_dlp),
        "closed_at": format_datetime_utc(closed_at),
    }


def deadletter_row(
    *,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    index_in_batch: int,
    reason: str,
    raw: bytes | str,
    received_at: datetime,
) -> dict[str, Any]:
    """A `deadletters` row. Raw bytes are kept as text when UTF-8, else as base64."""
    text, encoding = raw_as_text(raw) if isinstance(raw, bytes) else (raw, "utf-8")
    return {
        "source_topic": source_topic,
        "source_partition": source_partition,
        "source_offset": source_offset,
        "index_in_batch": index_in_batch,
        "reason": reason,
        "raw": text,
        "raw_encoding": encoding,
        "received_at": format_datetime_utc(received_at),
    }


def deadletter_raw(row: Mapping[str, Any]) -> bytes:
    """The original bytes of a stored dead letter."""
    if row["raw_encoding"] == "base64":
        return base64.b64decode(row["raw"])
    return str(row["raw"]).encode("utf-8")


# -- FINAL-safe readers -------------------------------------------------------------------


def _range_filters(
    since: datetime | None, until: datetime | None, limit: int | None
) -> dict[str, Any]:
    if limit is not None and limit < 0:
        raise StoreError("limit must be >= 0")
    return {"since": since, "until": until, "limit": _NO_LIMIT if limit is None else limit}


def _finding_filters(
    enterprise_id: str | None,
    rule_id: str | None,
    finding_ids: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise_id,
        "rule_id": rule_id,
        "finding_ids": list(finding_ids),
        **_range_filters(since, until, limit),
    }


def fetch_findings(
    store: EvidenceStore,
    *,
    enterprise_id: str | None = None,
    rule_id: str | None = None,
    finding_ids: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[Finding]:
    """Stored findings, each once, sorted by ts, rule_id, finding_id (`until` exclusive)."""
    parameters = _finding_filters(enterprise_id, rule_id, finding_ids, since, until, limit)
    return [Finding.model_validate(row) for row in store.query(load_query("findings"), parameters)]


def fetch_evaluated_findings(
    store: EvidenceStore,
    *,
    enterprise_id: str | None = None,
    rule_id: str | None = None,
    finding_ids: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[EvaluatedFinding]:
    """As `fetch_findings`, each with its evidence bundle (hash-checked)."""
    parameters = _finding_filters(enterprise_id, rule_id, finding_ids, since, until, limit)
    evaluated = []
    for row in store.query(load_query("finding_bundles"), parameters):
        bundle_text = str(row.pop("bundle"))
        row.pop("engine_version")
        finding = Finding.model_validate(row)
        if canonical_hash(bundle_text.encode()) != finding.evidence_hash:
            raise StoreError(f"stored bundle of {finding.finding_id} does not hash to its evidence")
        evaluated.append(EvaluatedFinding(finding=finding, bundle=orjson.loads(bundle_text)))
    return evaluated


def fetch_transfers(
    store: EvidenceStore,
    *,
    enterprise_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Stored transfer rows, one per (enterprise_id, transfer_id)."""
    parameters = {"enterprise_id": enterprise_id, **_range_filters(since, until, limit)}
    return store.query(load_query("transfers"), parameters)


def fetch_windows(
    store: EvidenceStore,
    *,
    enterprise_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Stored window rows, one per (enterprise_id, country, window_start), latest close."""
    parameters = {"enterprise_id": enterprise_id, **_range_filters(since, until, limit)}
    return store.query(load_query("flow_windows"), parameters)


def fetch_deadletters(
    store: EvidenceStore, *, source_topic: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Stored dead letters, one per (topic, partition, offset, index_in_batch)."""
    parameters = {
        "source_topic": source_topic,
        "limit": _NO_LIMIT if limit is None else limit,
    }
    return store.query(load_query("deadletters"), parameters)
