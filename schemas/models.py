"""The data contracts of spec/contracts.md as pydantic models.

Input models reject unknown fields and wrong types; "or null" fields may be omitted and list
fields default to empty, exactly as the contract says. Models are frozen so a record that has
been validated cannot drift before it reaches the rules.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator

from schemas.types import (
    Category,
    Cidr,
    Count,
    Country,
    DestinationCountry,
    FilingKind,
    FilingStatus,
    Id,
    IpAddress,
    LegalBasis,
    Purpose,
    RequiredPath,
    RequiredProcedure,
    RuleId,
    Severity,
    Text,
    Uscc,
    UtcDatetime,
)


class Contract(BaseModel):
    """Base of every input contract: strict, closed, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Enterprise(Contract):
    """An exporter, keyed by its Unified Social Credit Code."""

    enterprise_id: Uscc
    name: Text
    sector: Id
    region: Id
    ftz: Id | None = None
    is_ciio: StrictBool
    egress_cidrs: list[Cidr] = Field(default_factory=list)


class Filing(Contract):
    """A compliance path an enterprise holds (assessment, standard contract, certification)."""

    filing_id: Id
    enterprise_id: Uscc
    kind: FilingKind
    status: FilingStatus
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None
    recipients: list[Id] = Field(default_factory=list)
    countries: list[DestinationCountry] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    purposes: list[Purpose] = Field(default_factory=list)
    max_subjects: Count | None = None

    @model_validator(mode="after")
    def _window_ordered(self) -> Filing:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class NegativeListEntry(Contract):
    """One item of a free-trade-zone negative list edition."""

    list_id: Id
    ftz: Id
    sector: Id
    item_id: Id
    categories: list[Category] = Field(min_length=1)
    description: Text
    required_path: RequiredProcedure
    min_subjects: Count | None = None
    region: Id | None = None
    effective_from: UtcDatetime | None = None
    effective_until: UtcDatetime | None = None

    @model_validator(mode="after")
    def _window_ordered(self) -> NegativeListEntry:
        if (
            self.effective_from is not None
            and self.effective_until is not None
            and self.effective_until < self.effective_from
        ):
            raise ValueError("effective_until is before effective_from")
        return self


class TransferLog(Contract):
    """A transfer the enterprise declares it made."""

    transfer_id: Id
    enterprise_id: Uscc
    ts: UtcDatetime
    recipient: Id
    country: DestinationCountry
    categories: list[Category] = Field(min_length=1)
    subjects: Count
    sensitive_subjects: Count
    records: Count
    bytes: Count
    purpose: Purpose
    legal_basis: LegalBasis
    filing_ref: Id | None = None
    dst_hosts: list[Id] = Field(default_factory=list)
    received_at: UtcDatetime | None = None


class EgressFlow(Contract):
    """Flow metadata a probe saw at an egress point."""

    flow_id: Id
    probe_id: Id
    ts_start: UtcDatetime
    ts_end: UtcDatetime
    src_ip: IpAddress
    dst_ip: IpAddress
    dst_port: Count = Field(le=65535)
    protocol: Id
    bytes_out: Count
    bytes_in: Count
    packets: Count
    sni: Text | None = None
    enterprise_id: Uscc | None = None
    dst_country: Country | None = None
    dlp_categories: list[Category] = Field(default_factory=list)

    @model_validator(mode="after")
    def _interval_ordered(self) -> EgressFlow:
        if self.ts_end < self.ts_start:
            raise ValueError("ts_end is before ts_start")
        return self


class Finding(BaseModel):
    """What the rule engine concludes about one transfer, window or filing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    finding_id: StrictStr
    rule_id: RuleId
    severity: Severity
    enterprise_id: Uscc
    transfer_id: StrictStr | None = None
    ts: UtcDatetime
    required_path: RequiredPath | None = None
    filing_ids: list[StrictStr] = Field(default_factory=list)
    explanation: StrictStr
    explanation_zh: StrictStr
    evidence_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
