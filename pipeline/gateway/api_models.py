"""Request and response bodies of the gateway, as they appear in its OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepted(_Body):
    """Every record of the request is in the topic (acknowledged by the broker, acks=all)."""

    accepted: int = Field(ge=0, description="records produced by this request")
    duplicates: int = Field(ge=0, description="records whose transfer_id was already accepted")


class RecordError(_Body):
    index: int = Field(ge=0, description="position of the record in the request (0-based)")
    field: str = Field(description="dotted path of the field, or `record`")
    message: str


class Problem(_Body):
    """Why the whole request was refused; nothing of it was written."""

    detail: str
    errors: list[RecordError] = Field(default_factory=list)


class Score(_Body):
    credit: float
    risk: float
    tier: str
    computed_at: str
    config_version: str


class Status(_Body):
    enterprise_id: str
    transfers: int = Field(ge=0, description="distinct transfer ids in the stream")
    findings: int = Field(ge=0)
    open_findings: int = Field(ge=0, description="findings whose alert is not resolved")
    findings_by_rule: dict[str, int]
    score: Score | None = Field(description="latest credit, risk and tier; null until scored")


class Health(_Body):
    status: Literal["ok", "unavailable"]
