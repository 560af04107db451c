"""Reference records as store rows: the register the dashboards and the report join with.

The loader publishes reference records to the compacted topics (for the workers) and the same
records as `enterprises` / `filings` rows to `evidence.rows` (for the store writer), so a
ClickHouse query can group transfers by sector or list the filings about to expire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pipeline.config import RulesConfig, default_rules_config
from pipeline.rules.filings import validity_end
from pipeline.storage.base import encode_rows
from pipeline.storage.sql import format_datetime_utc
from pipeline.store_writer import row_messages
from pipeline.topics import EVIDENCE_ROWS
from schemas.models import Enterprise, Filing


def _utc(value: datetime | None) -> str | None:
    return None if value is None else format_datetime_utc(value)


def enterprise_row(enterprise: Enterprise, published_at: datetime) -> dict[str, Any]:
    return {
        **enterprise.model_dump(mode="json"),
        "published_at": format_datetime_utc(published_at),
    }


def filing_row(filing: Filing, published_at: datetime, config: RulesConfig) -> dict[str, Any]:
    """A `filings` row with the validity end the engine applies (`valid_until_effective`)."""
    row = filing.model_dump(mode="json")
    row.update(
        valid_from=_utc(filing.valid_from),
        valid_until=_utc(filing.valid_until),
        revoked_at=_utc(filing.revoked_at),
        valid_until_effective=_utc(
            validity_end(filing, config.zone, config.assessment_validity_years)
        ),
        published_at=format_datetime_utc(published_at),
    )
    return row


def reference_rows(
    records: Iterable[BaseModel], published_at: datetime, config: RulesConfig | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Rows per table for the enterprises and filings among `records` (others are skipped)."""
    config = config or default_rules_config()
    rows: dict[str, list[dict[str, Any]]] = {"enterprises": [], "filings": []}
    for record in records:
        if isinstance(record, Enterprise):
            rows["enterprises"].append(enterprise_row(record, published_at))
        elif isinstance(record, Filing):
            rows["filings"].append(filing_row(record, published_at, config))
    return rows


def reference_row_messages(
    records: Iterable[BaseModel], published_at: datetime, config: RulesConfig | None = None
) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) messages for the store writer; the token is the rows' hash."""
    messages: list[tuple[str, bytes, bytes]] = []
    for table, rows in reference_rows(records, published_at, config).items():
        if not rows:
            continue
        token = f"{table}|reference|" + hashlib.sha256(encode_rows(rows)).hexdigest()
        messages.extend(
            (EVIDENCE_ROWS.name, table.encode(), value)
            for value in row_messages(table, rows, token)
        )
    return messages
