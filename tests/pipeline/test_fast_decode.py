"""The flow and log fast paths accept only what the models accept, with the same values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.fast_decode import facts_of, fast_flows, fast_logs
from pipeline.settings import Settings
from pipeline.stream_batch import Message
from pipeline.wire import MAX_RECORD_BYTES, Decoded, decode_batch
from pipeline.worker import WorkerContext
from schemas.models import EgressFlow, TransferLog
from schemas.structs import FlowRecord, TransferLogRecord

VALID: dict[str, Any] = {
    "flow_id": "f-1",
    "probe_id": "probe-sh-01",
    "ts_start": "2026-03-01T08:00:00+08:00",
    "ts_end": "2026-03-01T08:00:05+08:00",
    "src_ip": "203.0.113.10",
    "dst_ip": "198.51.100.7",
    "dst_port": 443,
    "protocol": "tcp",
    "bytes_out": 1200,
    "bytes_in": 300,
    "packets": 12,
    "sni": "api.example.com",
    "enterprise_id": "91110000600037341L",
    "dst_country": "US",
    "dlp_categories": ["pi.contact"],
}


def slow(raw: bytes) -> tuple[list[Any], int]:
    decoded = decode_batch(raw, EgressFlow)
    return [facts_of(flow) for flow in decoded.records], len(decoded.rejected)


@pytest.mark.parametrize(
    ("struct", "model"), [(FlowRecord, EgressFlow), (TransferLogRecord, TransferLog)]
)
def test_the_structs_mirror_the_models_field_for_field(
    struct: type[msgspec.Struct], model: type[EgressFlow] | type[TransferLog]
) -> None:
    info = msgspec.structs.fields(struct)
    assert [f.name for f in info] == list(model.model_fields)
    required = {f.name for f in info if f.required}
    assert required == {n for n, f in model.model_fields.items() if f.is_required()}


def test_a_valid_message_takes_the_fast_path_with_the_models_values() -> None:
    records = [VALID, {**VALID, "flow_id": "f-2", "enterprise_id": None, "dlp_categories": []}]
    raw = orjson.dumps(records)
    fast = fast_flows(raw, MAX_RECORD_BYTES)
    assert fast is not None
    assert fast == slow(raw)[0]
    assert fast[0].ts_start.utcoffset() is not None and fast[0].ts_start.hour == 0  # UTC


def test_any_invalid_record_sends_the_whole_message_to_the_models() -> None:
    bad = [
        {**VALID, "enterprise_id": "91110000600037341X"},  # wrong check character
        {**VALID, "dst_country": "XX"},
        {**VALID, "ts_start": "2026-03-01T08:00:00"},  # no offset
        {**VALID, "ts_end": "2026-03-01T07:00:00+08:00"},  # before the start
        {**VALID, "src_ip": "300.1.1.1"},
        {**VALID, "dlp_categories": ["pi..contact"]},
        {**VALID, "dst_port": 70000},
        {**VALID, "bytes_out": True},
        {**VALID, "bytes_out": 1.0},
        {**VALID, "extra": 1},
    ]
    for record in bad:
        raw = orjson.dumps([VALID, record])
        assert fast_flows(raw, MAX_RECORD_BYTES) is None, record
        assert slow(raw)[1] == 1, record  # the models refuse that one record, keep the other


def test_duplicate_keys_decode_as_the_models_read_them() -> None:
    raw = b'[{"bytes_out": 5, ' + orjson.dumps(VALID)[1:] + b"]"
    fast = fast_flows(raw, MAX_RECORD_BYTES)
    assert fast is None or fast == slow(raw)[0]


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "2026-03-01T08:00:00Z",
            "2026-03-01 08:00:00+00:00",
            "2026-03-01T08:00:00.1234567+08:00",
            "2026-03-01T08:00:00z",
            "20260301T080000+0800",
            "::ffff:203.0.113.1",
            "2001:db8::1",
            "CN",
            "us",
            "pi.contact",
            "91110000600037341L",
        ]
    ),
    st.lists(st.text(max_size=8), max_size=3),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from([*VALID, "other"]), JSON_VALUES, max_size=3))
def test_fast_path_never_accepts_what_the_models_refuse(changes: dict[str, Any]) -> None:
    record = {**VALID, **changes}
    raw = orjson.dumps([VALID, record])
    fast = fast_flows(raw, MAX_RECORD_BYTES)
    facts, refused = slow(raw)
    if fast is not None:
        assert refused == 0
        assert fast == facts


def test_process_flows_dead_letters_only_the_bad_record() -> None:
    ctx = WorkerContext(Settings(store_enabled=False))
    good = orjson.dumps([VALID, {**VALID, "flow_id": "f-2"}])
    mixed = orjson.dumps([VALID, {**VALID, "bytes_out": -1}])
    messages = [
        Message("egress.flows", 0, 0, None, good),
        Message("egress.flows", 0, 1, None, mixed),
    ]
    by_enterprise, dead = ctx.process_flows(messages)
    [letter] = dead
    assert letter.rejected.index == 1 and "bytes_out" in letter.rejected.reason
    [share] = by_enterprise.values()
    assert sorted(share.units) == [(0, 0), (0, 1)]
    assert sum(o.flows for w in share.units.values() for o in w.values()) == 3


# --- transfer logs ------------------------------------------------------------------------
LOG: dict[str, Any] = {
    "transfer_id": "t-1",
    "enterprise_id": "91110000600037341L",
    "ts": "2026-03-01T08:00:00+08:00",
    "recipient": "acme-sg",
    "country": "SG",
    "categories": ["pi.contact", "pi.sensitive.health"],
    "subjects": 1200,
    "sensitive_subjects": 30,
    "records": 5000,
    "bytes": 1_000_000,
    "purpose": "hr_management",
    "legal_basis": "standard_contract",
    "filing_ref": "F-1",
    "dst_hosts": ["hr.example.sg"],
    "received_at": "2026-03-01T09:00:00Z",
}


def slow_logs(raw: bytes) -> Decoded[TransferLog]:
    return decode_batch(raw, TransferLog)


def test_a_valid_log_message_gives_the_models_instances() -> None:
    minimal = {k: v for k, v in LOG.items() if k not in ("filing_ref", "dst_hosts", "received_at")}
    raw = orjson.dumps([LOG, {**minimal, "transfer_id": "t-2"}])
    fast = fast_logs(raw, MAX_RECORD_BYTES)
    assert fast is not None
    models = slow_logs(raw).records
    assert fast == models
    assert [f.model_dump() for f in fast] == [m.model_dump() for m in models]
    assert [f.model_dump_json() for f in fast] == [m.model_dump_json() for m in models]
    assert fast[0].ts.hour == 0 and fast[0].ts.utcoffset() is not None  # UTC, as validated
    assert fast[1].dst_hosts == [] and fast[1].received_at is None
    with pytest.raises(ValueError):  # as frozen as a validated one
        fast[0].subjects = 1  # type: ignore[misc]


def test_any_invalid_log_sends_the_whole_message_to_the_models() -> None:
    bad = [
        {**LOG, "enterprise_id": "91110000600037341X"},  # wrong check character
        {**LOG, "country": "CN"},  # never a destination
        {**LOG, "country": "XX"},
        {**LOG, "categories": []},
        {**LOG, "categories": ["pi..contact"]},
        {**LOG, "ts": "2026-03-01T08:00:00"},  # no offset
        {**LOG, "received_at": "yesterday"},
        {**LOG, "purpose": "curiosity"},
        {**LOG, "legal_basis": "none"},
        {**LOG, "subjects": -1},
        {**LOG, "records": True},
        {**LOG, "bytes": 1.0},
        {**LOG, "filing_ref": ""},
        {**LOG, "dst_hosts": [""]},
        {**LOG, "extra": 1},
    ]
    for record in bad:
        raw = orjson.dumps([LOG, record])
        assert fast_logs(raw, MAX_RECORD_BYTES) is None, record
        decoded = slow_logs(raw)
        assert len(decoded.rejected) == 1 and len(decoded.records) == 1, record


@pytest.mark.parametrize(("fast", "valid"), [(fast_flows, VALID), (fast_logs, LOG)])
def test_single_objects_and_large_messages_take_the_models_path(
    fast: Callable[[bytes | None, int], list[Any] | None], valid: dict[str, Any]
) -> None:
    assert fast(orjson.dumps(valid), MAX_RECORD_BYTES) is None
    raw = orjson.dumps([valid] * 3)
    assert fast(raw, len(raw) - 1) is None
    assert fast(None, MAX_RECORD_BYTES) is None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from([*LOG, "other"]), JSON_VALUES, max_size=3))
def test_log_fast_path_never_accepts_what_the_models_refuse(changes: dict[str, Any]) -> None:
    record = {**LOG, **changes}
    raw = orjson.dumps([LOG, record])
    fast = fast_logs(raw, MAX_RECORD_BYTES)
    decoded = slow_logs(raw)
    if fast is not None:
        assert decoded.rejected == []
        assert fast == decoded.records
        assert [f.model_dump() for f in fast] == [m.model_dump() for m in decoded.records]


def test_duplicate_log_keys_decode_as_the_models_read_them() -> None:
    raw = b'[{"subjects": 5, ' + orjson.dumps(LOG)[1:] + b"]"
    fast = fast_logs(raw, MAX_RECORD_BYTES)
    assert fast is None or fast == slow_logs(raw).records
