"""Alerts for on-call: findings grouped by (enterprise, rule, day), with a lifecycle.

Pure: the caller passes the tier's alert severity and route (from the scoring policy) and the
time. One alert per enterprise, rule and calendar day (Asia/Shanghai) counts its findings;
its severity is the highest seen. Lifecycle: open -> acknowledged -> resolved; a new finding
on a resolved alert of the same day reopens it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from schemas.models import Finding
from schemas.types import RuleId, Severity

AlertStatus = Literal["open", "acknowledged", "resolved"]
Route = Literal["page", "ticket", "none"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
MAX_FINDING_IDS = 50  # the alert keeps the latest ids; the store keeps every finding

_TRANSITIONS: dict[str, frozenset[str]] = {
    "acknowledged": frozenset({"open"}),
    "resolved": frozenset({"open", "acknowledged"}),
}


class AlertError(ValueError):
    """A lifecycle step that does not apply to the alert's current status."""


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    enterprise_id: str
    rule_id: RuleId
    day: date
    tier: str
    severity: Severity
    route: Route
    count: int = Field(ge=1)
    first_ts: datetime
    last_ts: datetime
    finding_ids: list[str]
    status: AlertStatus = "open"
    updated_at: datetime
    updated_by: str | None = None
    note: str | None = None


def alert_id(enterprise_id: str, rule_id: str, day: date) -> str:
    text = f"xbmon-alert-v1|{enterprise_id}|{rule_id}|{day.isoformat()}".encode()
    return hashlib.sha256(text).hexdigest()[:32]


def alert_day(ts: datetime, zone: ZoneInfo) -> date:
    return ts.astimezone(zone).date()


Raised = tuple[Finding, Severity, Route]  # a finding, with its alert severity and route


def raise_alert(
    existing: Alert | None,
    finding: Finding,
    tier: str,
    severity: Severity,
    route: Route,
    now: datetime,
    zone: ZoneInfo,
) -> Alert:
    """The alert `finding` belongs to, created or updated (idempotent for a redelivery)."""
    return raise_alerts(existing, [(finding, severity, route)], tier, now, zone)


def raise_alerts(
    existing: Alert | None, raised: Sequence[Raised], tier: str, now: datetime, zone: ZoneInfo
) -> Alert:
    """`raise_alert` for each of `raised` in turn (findings of one alert), built once.

    A burst of findings bumps one alert many times in a batch: the fold runs on plain values
    and the alert is built or copied once (a pydantic copy per finding cost ~4 µs).
    """
    if not raised:
        raise ValueError("raise_alerts needs at least one finding")
    if existing is None:
        first, severity, route = raised[0]
        day = alert_day(first.ts, zone)
        values: dict[str, Any] = {
            "alert_id": alert_id(first.enterprise_id, first.rule_id, day),
            "enterprise_id": first.enterprise_id,
            "rule_id": first.rule_id,
            "day": day,
            "tier": tier,
            "severity": severity,
            "route": route,
            "count": 1,
            "first_ts": first.ts,
            "last_ts": first.ts,
            "finding_ids": [first.finding_id],
            "status": "open",
            "updated_at": now,
        }
        rest, changed = raised[1:], True
    else:
        values = {name: getattr(existing, name) for name in _BUMPED}
        rest, changed = raised, False
    for finding, severity, route in rest:
        if finding.finding_id in values["finding_ids"]:
            continue  # the same finding delivered again
        stronger = SEVERITY_RANK[severity] > SEVERITY_RANK[values["severity"]]
        values.update(
            count=values["count"] + 1,
            first_ts=min(values["first_ts"], finding.ts),
            last_ts=max(values["last_ts"], finding.ts),
            finding_ids=[*values["finding_ids"], finding.finding_id][-MAX_FINDING_IDS:],
            severity=severity if stronger else values["severity"],
            route=route if stronger else values["route"],
            tier=tier,
            status="open" if values["status"] == "resolved" else values["status"],
            updated_at=now,
        )
        changed = True
    if existing is None:
        return Alert(**values)
    return existing.model_copy(update=values) if changed else existing


_BUMPED = (  # the fields a new finding updates
    "count",
    "first_ts",
    "last_ts",
    "finding_ids",
    "severity",
    "route",
    "tier",
    "status",
    "updated_at",
)


def check_transition(alert_id: str, current: str, target: str, who: str) -> None:
    """Raise AlertError unless `current` -> `target` is a lifecycle step and `who` is named."""
    if current not in _TRANSITIONS[target]:
        raise AlertError(f"alert {alert_id} is {current}; it cannot become {target}")
    if not who.strip():
        raise AlertError("say who acknowledges or resolves the alert")


def transition(
    alert: Alert,
    status: Literal["acknowledged", "resolved"],
    who: str,
    now: datetime,
    note: str | None = None,
) -> Alert:
    """Acknowledge or resolve; refuses a step that does not follow the lifecycle."""
    check_transition(alert.alert_id, alert.status, status, who)
    return alert.model_copy(
        update={"status": status, "updated_at": now, "updated_by": who, "note": note}
    )
