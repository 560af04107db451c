"""The server backend: a ClickHouse server through clickhouse-connect (HTTP).

Same DDL, queries and insert bytes as chDB. Queries with `{name:Type}` placeholders are sent
with server-side parameters (`param_<name>`); inserts are `raw_insert` of the JSONEachRow
payload with `insert_deduplication_token`, so clickhouse-connect's own retry of an insert is
deduplicated too. The client runs without an HTTP session (safe to share between threads)
and with `session_timezone = UTC`.
"""

from __future__ import annotations

from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from pipeline.settings import ClickHouseSettings
from pipeline.storage.base import INSERT_SETTINGS, EvidenceStore
from pipeline.storage.errors import StoreError, StoreUnavailableError
from pipeline.storage.sql import check_identifier

CONNECT_TIMEOUT_S = 10
SEND_RECEIVE_TIMEOUT_S = 300


class ServerStore(EvidenceStore):
    """Evidence store on a ClickHouse server."""

    backend = "server"

    def __init__(self, settings: ClickHouseSettings) -> None:
        super().__init__(settings.database, settings.retention_days)
        try:
            self._client: Client | None = clickhouse_connect.get_client(
                host=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password.get_secret_value(),
                secure=settings.secure,
                settings={"session_timezone": "UTC"},
                autogenerate_session_id=False,
                tz_mode="aware",
                connect_timeout=CONNECT_TIMEOUT_S,
                send_receive_timeout=SEND_RECEIVE_TIMEOUT_S,
            )
        except OperationalError as exc:
            raise StoreUnavailableError(
                f"cannot reach ClickHouse at {settings.host}:{settings.port}: {exc}"
            ) from exc
        except ClickHouseError as exc:
            raise StoreError(f"ClickHouse at {settings.host}:{settings.port}: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: ClickHouseSettings) -> ServerStore:
        return cls(settings)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _live(self) -> Client:
        if self._client is None:
            raise StoreError("the store is closed")
        return self._client

    def _execute(self, sql: str, parameters: dict[str, Any]) -> None:
        try:
            self._live().command(sql, parameters=parameters)
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc)) from exc
        except ClickHouseError as exc:
            raise StoreError(str(exc)) from exc

    def _select(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            result = self._live().query(sql, parameters=parameters)
            return list(result.named_results())
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc)) from exc
        except ClickHouseError as exc:
            raise StoreError(str(exc)) from exc

    def _insert_payload(self, table: str, payload: bytes, token: str) -> None:
        target = f"`{self.database}`.`{check_identifier(table, 'table')}`"  # both checked
        settings: dict[str, Any] = {**INSERT_SETTINGS, "insert_deduplication_token": token}
        try:
            self._live().raw_insert(
                target, insert_block=payload, settings=settings, fmt="JSONEachRow"
            )
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc)) from exc
        except ClickHouseError as exc:
            raise StoreError(str(exc)) from exc
