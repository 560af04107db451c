"""The flow fast path accepts exactly what the models accept, with the same values."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.fast_decode import facts_of, fast_flows
from pipeline.settings import Settings
from pipeline.stream_batch import Message
from pipeline.wire import MAX_RECORD_BYTES, decode_batch
from pipeline.worker import WorkerContext
from schemas.models import EgressFlow
from schemas.structs import FlowRecord

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


def test_the_struct_mirrors_the_model_field_for_field() -> None:
    info = msgspec.structs.fields(FlowRecord)
    assert [f.name for f in info] == list(EgressFlow.model_fields)
    required = {f.name for f in info if f.required}
    assert required == {n for n, f in EgressFlow.model_fields.items() if f.is_required()}


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


def test_single_objects_and_large_messages_take_the_models_path() -> None:
    assert fast_flows(orjson.dumps(VALID), MAX_RECORD_BYTES) is None
    raw = orjson.dumps([VALID] * 3)
    assert fast_flows(raw, len(raw) - 1) is None
    assert fast_flows(None, MAX_RECORD_BYTES) is None


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
