"""msgspec mirrors of the high-volume input contracts, for the batch fast path.

The pydantic models in `schemas.models` are the contract. These structs decode a whole
message in one C call (about ten times faster than validating record by record) and check
only the JSON shape: types, lengths, bounds, closed objects. Everything with a meaning
(USCC check characters, country codes, categories, addresses, datetimes) is then checked by
`pipeline.fast_decode` with the very functions the models use. A message the fast path
refuses in any way is decoded again by the models, so errors and dead letters are theirs.

Fields, names and optionality must match the models: `tests/pipeline/test_fast_decode.py`
compares them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.types import LegalBasis, Purpose

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Text = Annotated[str, msgspec.Meta(max_length=1000)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class FlowRecord(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """`schemas.models.EgressFlow` before its semantic checks (datetimes and IPs as text)."""

    flow_id: Id
    probe_id: Id
    ts_start: str
    ts_end: str
    src_ip: str
    dst_ip: str
    dst_port: Port
    protocol: Id
    bytes_out: Count
    bytes_in: Count
    packets: Count
    sni: Text | None = None
    enterprise_id: str | None = None
    dst_country: str | None = None
    dlp_categories: list[Category] = []


class TransferLogRecord(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """`schemas.models.TransferLog` before its semantic checks (datetimes as text)."""

    transfer_id: Id
    enterprise_id: str
    ts: str
    recipient: Id
    country: str
    categories: Annotated[list[Category], msgspec.Meta(min_length=1)]
    subjects: Count
    sensitive_subjects: Count
    records: Count
    bytes: Count
    purpose: Purpose
    legal_basis: LegalBasis
    filing_ref: Id | None = None
    dst_hosts: list[Id] = []
    received_at: str | None = None


FLOW_ARRAY = msgspec.json.Decoder(list[FlowRecord])
LOG_ARRAY = msgspec.json.Decoder(list[TransferLogRecord])
