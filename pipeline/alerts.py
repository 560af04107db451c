"""Alerts for on-call: findings grouped by (enterprise, rule, day), with a lifecycle.

Pure: the caller passes the tier's alert severity and route (from the scoring policy) and the
time. One alert per enterprise, rule and calendar day (Asia/Shanghai) counts its findings;
its severity is the highest seen. Lifecycle: open -> acknowledged -> resolved; a new finding
on a resolved alert of the same day reopens it.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Literal
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
    day = alert_day(finding.ts, zone)
    if existing is None:
        return Alert(
            alert_id=alert_id(finding.enterprise_id, finding.rule_id, day),
            enterprise_id=finding.enterprise_id,
            rule_id=finding.rule_id,
            day=day,
            tier=tier,
            severity=severity,
            route=route,
            count=1,
            first_ts=finding.ts,
            last_ts=finding.ts,
            finding_ids=[finding.finding_id],
            updated_at=now,
        )
    if finding.finding_id in existing.finding_ids:
        return existing  # the same finding delivered again
    stronger = SEVERITY_RANK[severity] > SEVERITY_RANK[existing.severity]
    return existing.model_copy(
        update={
            "count": existing.count + 1,
            "first_ts": min(existing.first_ts, finding.ts),
            "last_ts": max(existing.last_ts, finding.ts),
            "finding_ids": [*existing.finding_ids, finding.finding_id][-MAX_FINDING_IDS:],
            "severity": severity if stronger else existing.severity,
            "route": route if stronger else existing.route,
            "tier": tier,
            "status": "open" if existing.status == "resolved" else existing.status,
            "updated_at": now,
        }
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
