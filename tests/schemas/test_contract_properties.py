"""Property tests: the parsers never crash on arbitrary JSON, name the bad field, round-trip."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from stdnum.cn import uscc

from schemas import CONTRACTS, EgressFlow, Enterprise, Filing, TransferLog
from schemas.errors import describe_error

INPUTS = [m for name, m in CONTRACTS.items() if name != "finding"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
usccs = st.tuples(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
).map(lambda parts: parts[0] + parts[1] + uscc.calc_check_digit(parts[0] + parts[1]))
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
segments = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
categories = st.lists(segments, min_size=1, max_size=4).map(".".join)
countries = st.sampled_from(["US", "DE", "SG", "JP", "GB", "FR", "HK", "KR"])
counts = st.integers(min_value=0, max_value=10**12)
ids = st.text(alphabet="abcXYZ0123456789-_.", min_size=1, max_size=20)


@st.composite
def transfer_logs(draw: st.DrawFn) -> dict[str, Any]:
    ts = draw(aware)
    return {
        "transfer_id": draw(ids),
        "enterprise_id": draw(usccs),
        "ts": ts.isoformat(),
        "recipient": draw(ids),
        "country": draw(countries),
        "categories": draw(st.lists(categories, min_size=1, max_size=4)),
        "subjects": draw(counts),
        "sensitive_subjects": draw(counts),
        "records": draw(counts),
        "bytes": draw(counts),
        "purpose": draw(st.sampled_from(["business", "research", "emergency", "other"])),
        "legal_basis": draw(st.sampled_from(["standard_contract", "exempt"])),
        "filing_ref": draw(st.none() | ids),
        "dst_hosts": draw(st.lists(ids, max_size=3)),
        "received_at": draw(st.none() | aware.map(lambda d: d.isoformat())),
    }


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(aware)
    return {
        "flow_id": draw(ids),
        "probe_id": draw(ids),
        "ts_start": start.isoformat(),
        "ts_end": (start + timedelta(seconds=draw(st.integers(0, 3600)))).isoformat(),
        "src_ip": draw(st.ip_addresses().map(str)),
        "dst_ip": draw(st.ip_addresses().map(str)),
        "dst_port": draw(st.integers(0, 65535)),
        "protocol": "tcp",
        "bytes_out": draw(counts),
        "bytes_in": draw(counts),
        "packets": draw(counts),
        "sni": draw(st.none() | ids),
        "enterprise_id": draw(st.none() | usccs),
        "dst_country": draw(st.none() | countries),
        "dlp_categories": draw(st.lists(categories, max_size=3)),
    }


@pytest.mark.parametrize("model", INPUTS, ids=lambda m: m.__name__)
@given(value=json_values)
@settings(max_examples=150)
def test_arbitrary_json_never_crashes(model: type[BaseModel], value: Any) -> None:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        assert describe_error(exc)
    with contextlib.suppress(ValidationError):
        model.model_validate_json(json.dumps(value))


@given(record=transfer_logs())
def test_valid_transfer_logs_round_trip(record: dict[str, Any]) -> None:
    model = TransferLog.model_validate(record)
    dumped = model.model_dump(mode="json")
    assert TransferLog.model_validate(dumped) == model
    assert TransferLog.model_validate_json(model.model_dump_json()) == model


@given(record=flows())
def test_valid_flows_round_trip(record: dict[str, Any]) -> None:
    model = EgressFlow.model_validate(record)
    assert EgressFlow.model_validate_json(model.model_dump_json()) == model


BREAKAGES: list[tuple[str, Any]] = [
    ("subjects", "12"),
    ("subjects", 1.5),
    ("subjects", -1),
    ("bytes", True),
    ("ts", "2025-01-01T00:00:00"),
    ("ts", 1735689600),
    ("country", "CN"),
    ("country", "XX"),
    ("enterprise_id", "91110000600037341A"),
    ("categories", []),
    ("categories", ["pi..general"]),
    ("purpose", "espionage"),
    ("legal_basis", None),
]


@pytest.mark.parametrize(("field", "bad"), BREAKAGES)
@given(record=transfer_logs())
@settings(max_examples=10)
def test_invalid_field_is_named(record: dict[str, Any], field: str, bad: Any) -> None:
    record[field] = bad
    with pytest.raises(ValidationError) as caught:
        TransferLog.model_validate(record)
    assert describe_error(caught.value).startswith(field)


def test_unknown_field_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        Enterprise.model_validate(
            {
                "enterprise_id": "91110000600037341L",
                "name": "A",
                "sector": "ai",
                "region": "beijing",
                "is_ciio": False,
                "colour": "red",
            }
        )
    assert describe_error(caught.value).startswith("colour: Extra inputs")


def test_omitted_nullable_and_list_fields_default() -> None:
    filing = Filing.model_validate(
        {
            "filing_id": "F-1",
            "enterprise_id": "91110000600037341L",
            "kind": "certification",
            "status": "active",
            "valid_from": "2025-01-01T00:00:00+08:00",
        }
    )
    assert filing.valid_until is None and filing.recipients == [] and filing.max_subjects is None
    assert filing.valid_from == datetime(2024, 12, 31, 16, tzinfo=UTC)
