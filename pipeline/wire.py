"""The wire format: a Kafka message value is one JSON object or an array of them.

Decoding is ours, from raw bytes, so a bad record is never silently acknowledged by the
framework: each one becomes a `Rejected` (its index, its raw bytes, a reason naming the field)
for the dead-letter topic, and the valid records of the same message go on.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.errors import describe_error
from schemas.models import Finding
from schemas.types import format_datetime

M = TypeVar("M", bound=BaseModel)

#: One record larger than this is refused (a message may hold many records).
MAX_RECORD_BYTES = 256 * 1024


#: Raw bytes kept with a dead letter. A longer payload (a 10 MB message: Tansu accepts it)
#: keeps its first bytes, and the reason records its size and SHA-256: the dead letter must
#: fit in a Kafka message (1 MB by default) and in an evidence-rows message.
DEADLETTER_RAW_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Rejected:
    """A record or message refused, with its raw bytes (bounded, see above) and the reason."""

    index: int | None  # position in the batch; None when the message itself is unreadable
    raw: bytes
    reason: str

    def __post_init__(self) -> None:
        if len(self.raw) > DEADLETTER_RAW_MAX_BYTES:
            digest = hashlib.sha256(self.raw).hexdigest()
            note = (
                f" [raw truncated to its first {DEADLETTER_RAW_MAX_BYTES} of {len(self.raw)} "
                f"bytes; sha256 of the whole: {digest}]"
            )
            object.__setattr__(self, "reason", self.reason + note)
            object.__setattr__(self, "raw", self.raw[:DEADLETTER_RAW_MAX_BYTES])


@dataclass(frozen=True)
class Decoded(Generic[M]):
    records: list[M]
    rejected: list[Rejected]
    indices: list[int]  # batch index of each valid record


def decode_batch(
    raw: bytes | None, model: type[M], max_record_bytes: int = MAX_RECORD_BYTES
) -> Decoded[M]:
    """Validate every record of a message; never raises on data."""
    if raw is None:
        return Decoded([], [Rejected(None, b"", "empty message (no value)")], [])
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Decoded([], [Rejected(None, raw, f"invalid JSON: {exc}")], [])
    items = document if isinstance(document, list) else [document]
    # No record can be larger than its message: skip measuring each one when the message fits.
    limit = max_record_bytes if len(raw) > max_record_bytes else None
    records: list[M] = []
    indices: list[int] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        reason = _check_item(item, limit)
        if reason is None:
            try:
                records.append(model.model_validate(item))
                indices.append(index)
                continue
            except ValidationError as exc:
                reason = describe_error(exc)
        rejected.append(Rejected(index, _raw_item(item, raw, len(items)), reason))
    return Decoded(records, rejected, indices)


def _check_item(item: Any, max_record_bytes: int | None) -> str | None:
    if not isinstance(item, dict):
        return f"record: expected a JSON object, got {type(item).__name__}"
    if max_record_bytes is None:
        return None
    size = len(orjson.dumps(item))
    if size > max_record_bytes:
        return f"record: {size} bytes exceeds the {max_record_bytes}-byte limit"
    return None


def _raw_item(item: Any, raw: bytes, count: int) -> bytes:
    """The rejected record's own bytes (the whole message when it held just this one)."""
    if count == 1:
        return raw
    try:
        return orjson.dumps(item)
    except TypeError:  # pragma: no cover - orjson.loads output always re-encodes
        return raw


#: What one message we produce may hold (the broker's default limit is 1 MiB).
MAX_MESSAGE_BYTES = 512 * 1024


def chunk_encoded(
    encoded: list[bytes], max_bytes: int = MAX_MESSAGE_BYTES, max_items: int | None = None
) -> Iterator[tuple[int, int]]:
    """(start, end) ranges of `encoded` items whose JSON array stays near `max_bytes`.

    A range closes once it reaches the limit, so it exceeds it by at most one item; items
    are never larger than MAX_RECORD_BYTES, so a message stays under the broker's limit.
    """
    start = size = 0
    for end, item in enumerate(encoded, start=1):
        size += len(item) + 1
        full = max_items is not None and end - start >= max_items
        if size >= max_bytes or full or end == len(encoded):
            yield start, end
            start, size = end, 0


def json_arrays(encoded: list[bytes], max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """Pre-encoded JSON values as arrays of at most about `max_bytes` each."""
    for start, end in chunk_encoded(encoded, max_bytes):
        yield b"[" + b",".join(encoded[start:end]) + b"]"


def encode_batch(records: list[BaseModel]) -> bytes:
    """A message value holding `records` as one JSON array (the producers' batching)."""
    return b"[" + b",".join(r.model_dump_json().encode() for r in records) + b"]"


def finding_json(finding: Finding) -> bytes:
    """`finding.model_dump_json()`'s bytes, as the findings topic carries them, ~4x faster.

    pydantic serialises `ts` through a Python callback (`UtcDatetime`'s serializer): 4.5
    against 1.0 µs a finding, and a flow batch publishes thousands. A Finding's other fields
    are JSON as they are; the bytes are tested equal over every rule's findings.
    """
    fields = dict(finding.__dict__)
    fields["ts"] = format_datetime(finding.ts)
    return orjson.dumps(fields)


def raw_as_text(raw: bytes) -> tuple[str, str]:
    """Raw bytes for JSON: the text when they are UTF-8, else base64; and which it is."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def deadletter_value(
    rejected: Rejected, topic: str, partition: int, offset: int, received_at: datetime
) -> bytes:
    """The dead-letter record: where it came from, why, and its raw bytes (UTF-8 or base64)."""
    raw_text, encoding = raw_as_text(rejected.raw)
    return orjson.dumps(
        {
            "source_topic": topic,
            "partition": partition,
            "offset": offset,
            "index": rejected.index,
            "reason": rejected.reason,
            "raw": raw_text,
            "raw_encoding": encoding,
            "received_at": format_datetime(received_at),
        }
    )
