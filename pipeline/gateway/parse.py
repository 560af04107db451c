"""A request body to validated transfer logs, or the reasons it is refused (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.errors import error_items
from schemas.models import TransferLog
from schemas.types import format_datetime

NDJSON = "application/x-ndjson"
JSON = "application/json"


@dataclass
class Parsed:
    items: list[Any] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # index, field, message
    detail: str | None = None  # the body as a whole is unreadable


def media_type(content_type: str | None) -> str:
    return (content_type or JSON).split(";", 1)[0].strip().lower()


def parse_body(body: bytes, kind: str) -> Parsed:
    """JSON array, or one JSON object per line for NDJSON (blank lines skipped)."""
    if kind == NDJSON:
        parsed = Parsed()
        for line in body.split(b"\n"):
            if not line.strip():
                continue
            index = len(parsed.items)
            try:
                parsed.items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                parsed.items.append(None)
                parsed.errors.append((index, "record", f"invalid JSON: {exc}"))
        if parsed.errors:
            parsed.detail = "malformed NDJSON"
        return parsed
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Parsed(detail=f"invalid JSON: {exc}")
    if not isinstance(document, list):
        return Parsed(detail="the body must be a JSON array of transfer logs")
    return Parsed(items=document)


def foreign_records(items: list[Any], enterprise_id: str) -> list[int]:
    """Indices of records naming another enterprise than the key's."""
    return [
        i
        for i, item in enumerate(items)
        if isinstance(item, dict)
        and "enterprise_id" in item
        and item["enterprise_id"] != enterprise_id
    ]


def validate_records(
    items: list[Any], received_at: datetime
) -> tuple[list[TransferLog], list[tuple[int, str, str]]]:
    """Every record validated with the gateway's `received_at` (a client's is overwritten)."""
    stamp = format_datetime(received_at)
    records: list[TransferLog] = []
    errors: list[tuple[int, str, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append((index, "record", f"expected a JSON object, got {type(item).__name__}"))
            continue
        try:
            records.append(TransferLog.model_validate({**item, "received_at": stamp}))
        except ValidationError as exc:
            errors.extend((index, path, message) for path, message in error_items(exc))
    return records, errors
