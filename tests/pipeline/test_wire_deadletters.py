"""Dead letters stay small enough to publish and store, whatever was sent."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson

from pipeline.metrics import reason_kind
from pipeline.wire import DEADLETTER_RAW_MAX_BYTES, deadletter_value, decode_batch
from schemas.models import TransferLog


def test_a_10_mb_record_is_dead_lettered_with_a_bounded_copy_its_size_and_hash() -> None:
    payload = orjson.dumps({"transfer_id": "x", "note": "n" * (10 << 20)})
    decoded = decode_batch(payload, TransferLog)
    [rejected] = decoded.rejected
    assert rejected.raw == payload[:DEADLETTER_RAW_MAX_BYTES]
    assert f"of {len(payload)} bytes" in rejected.reason
    assert hashlib.sha256(payload).hexdigest() in rejected.reason
    assert reason_kind(rejected.reason) == "oversized"
    value = deadletter_value(rejected, "transfer.logs", 0, 5, datetime(2026, 1, 1, tzinfo=UTC))
    assert len(value) < 2 * DEADLETTER_RAW_MAX_BYTES


def test_small_bad_input_keeps_its_exact_bytes() -> None:
    raw = b"{not json" * 100
    [rejected] = decode_batch(raw, TransferLog).rejected
    assert rejected.raw == raw and "truncated" not in rejected.reason
    huge_garbage = b"\xff" * (DEADLETTER_RAW_MAX_BYTES + 1)
    [rejected] = decode_batch(huge_garbage, TransferLog).rejected
    assert rejected.reason.startswith("invalid JSON") and "truncated" in rejected.reason
    assert len(rejected.raw) == DEADLETTER_RAW_MAX_BYTES
