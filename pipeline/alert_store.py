"""Alerts in the evidence store: list them, and record a responder's acknowledgement or
resolution (validated against the alert's effective status)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson

from pipeline.alerts import Alert, check_transition
from pipeline.storage import EvidenceStore
from pipeline.storage.sql import load_query
from schemas.types import format_datetime


class AlertNotFoundError(LookupError):
    pass


def list_alerts(
    store: EvidenceStore,
    *,
    status: str | None = None,
    enterprise_id: str | None = None,
    alert_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    rows = store.query(
        load_query("alerts"),
        {"alert_id": alert_id, "enterprise_id": enterprise_id, "status": status, "limit": limit},
    )
    for row in rows:
        if not row.get("actor"):
            row["actor"] = row["note"] = row["action_at"] = None
    return rows


def record_action(
    store: EvidenceStore,
    alert_id: str,
    status: Literal["acknowledged", "resolved"],
    actor: str,
    now: datetime,
    note: str | None = None,
) -> dict[str, Any]:
    """Append the action after checking the lifecycle; returns the alert as it now reads."""
    found = list_alerts(store, alert_id=alert_id, limit=1)
    if not found:
        raise AlertNotFoundError(f"no alert {alert_id}")
    check_transition(alert_id, found[0]["status"], status, actor)
    store.insert(
        "alert_actions",
        [
            {
                "alert_id": alert_id,
                "status": status,
                "actor": actor,
                "note": note,
                "at": format_datetime(now),
            }
        ],
    )
    return list_alerts(store, alert_id=alert_id, limit=1)[0]


def alert_row(alert: Alert) -> dict[str, Any]:
    """The `alerts` row the stream writes for an alert (status lives in alert_actions)."""
    return {
        "alert_id": alert.alert_id,
        "enterprise_id": alert.enterprise_id,
        "rule_id": alert.rule_id,
        "day": alert.day.isoformat(),
        "tier": alert.tier,
        "severity": alert.severity,
        "route": alert.route,
        "count": alert.count,
        "first_ts": format_datetime(alert.first_ts),
        "last_ts": format_datetime(alert.last_ts),
        "finding_ids": alert.finding_ids,
        "updated_at": format_datetime(alert.updated_at),
    }


def action_message(row: dict[str, Any], status: str, actor: str, now: datetime) -> bytes:
    """The `alert.actions` record that tells the stream a responder acted on an alert."""
    return orjson.dumps(
        {
            "alert_id": row["alert_id"],
            "enterprise_id": row["enterprise_id"],
            "status": status,
            "actor": actor,
            "at": format_datetime(now),
            "finding_ids": list(row["finding_ids"]),
        }
    )
