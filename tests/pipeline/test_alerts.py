"""Alert grouping by (enterprise, rule, day) and the open -> acknowledged -> resolved lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.alerts import (
    MAX_FINDING_IDS,
    SEVERITY_RANK,
    Alert,
    AlertError,
    Route,
    alert_day,
    alert_id,
    raise_alert,
    raise_alerts,
    transition,
)
from schemas.models import Finding
from schemas.types import Severity

SHANGHAI = ZoneInfo("Asia/Shanghai")
E1 = "91110000600037341L"
NOW = datetime(2025, 3, 3, 12, tzinfo=UTC)


def finding(
    fid: str, ts: datetime, rule: str = "XB-PATH-MISSING", severity: str = "high"
) -> Finding:
    return Finding.model_validate(
        {
            "finding_id": fid,
            "rule_id": rule,
            "severity": severity,
            "enterprise_id": E1,
            "transfer_id": "t",
            "ts": ts.isoformat(),
            "explanation": "x",
            "explanation_zh": "x",
            "evidence_hash": "0" * 64,
        }
    )


def test_findings_of_one_day_and_rule_group_into_one_alert_with_a_count() -> None:
    a = raise_alert(None, finding("f1", NOW), "C", "high", "ticket", NOW, SHANGHAI)
    a = raise_alert(
        a, finding("f2", NOW + timedelta(hours=2)), "C", "high", "ticket", NOW, SHANGHAI
    )
    assert a.count == 2 and a.finding_ids == ["f1", "f2"]
    assert a.alert_id == alert_id(E1, "XB-PATH-MISSING", a.day)
    # Redelivered finding: no double count.
    assert raise_alert(a, finding("f2", NOW), "C", "high", "ticket", NOW, SHANGHAI) == a


def test_the_day_is_the_beijing_calendar_day() -> None:
    late = datetime(2025, 3, 3, 15, 59, tzinfo=UTC)  # 23:59 Beijing
    early = datetime(2025, 3, 3, 16, 1, tzinfo=UTC)  # 00:01 next day in Beijing
    a = raise_alert(None, finding("f1", late), "B", "high", "ticket", NOW, SHANGHAI)
    b = raise_alert(None, finding("f2", early), "B", "high", "ticket", NOW, SHANGHAI)
    assert a.alert_id != b.alert_id and (b.day - a.day).days == 1


def test_severity_and_route_only_escalate() -> None:
    a = raise_alert(None, finding("f1", NOW), "B", "medium", "ticket", NOW, SHANGHAI)
    a = raise_alert(a, finding("f2", NOW), "D", "critical", "page", NOW, SHANGHAI)
    a = raise_alert(a, finding("f3", NOW), "D", "low", "ticket", NOW, SHANGHAI)
    assert (a.severity, a.route) == ("critical", "page")


def test_lifecycle() -> None:
    a = raise_alert(None, finding("f1", NOW), "C", "high", "page", NOW, SHANGHAI)
    acked = transition(a, "acknowledged", "oncall-1", NOW)
    assert acked.status == "acknowledged" and acked.updated_by == "oncall-1"
    resolved = transition(acked, "resolved", "oncall-1", NOW, note="filing renewed")
    assert resolved.status == "resolved"
    with pytest.raises(AlertError, match="cannot become acknowledged"):
        transition(resolved, "acknowledged", "oncall-2", NOW)
    with pytest.raises(AlertError, match="say who"):
        transition(a, "resolved", " ", NOW)
    # A new finding of the same day reopens a resolved alert.
    reopened = raise_alert(resolved, finding("f9", NOW), "C", "high", "page", NOW, SHANGHAI)
    assert reopened.status == "open" and reopened.count == 2


def reference_raise(
    existing: Alert | None,
    found: Finding,
    tier: str,
    severity: Severity,
    route: Route,
    now: datetime,
) -> Alert:
    """The alert contract, one finding at a time, as `raise_alert` was first written."""
    day = alert_day(found.ts, SHANGHAI)
    if existing is None:
        return Alert(
            alert_id=alert_id(found.enterprise_id, found.rule_id, day),
            enterprise_id=found.enterprise_id,
            rule_id=found.rule_id,
            day=day,
            tier=tier,
            severity=severity,
            route=route,
            count=1,
            first_ts=found.ts,
            last_ts=found.ts,
            finding_ids=[found.finding_id],
            updated_at=now,
        )
    if found.finding_id in existing.finding_ids:
        return existing
    stronger = SEVERITY_RANK[severity] > SEVERITY_RANK[existing.severity]
    return existing.model_copy(
        update={
            "count": existing.count + 1,
            "first_ts": min(existing.first_ts, found.ts),
            "last_ts": max(existing.last_ts, found.ts),
            "finding_ids": [*existing.finding_ids, found.finding_id][-MAX_FINDING_IDS:],
            "severity": severity if stronger else existing.severity,
            "route": route if stronger else existing.route,
            "tier": tier,
            "status": "open" if existing.status == "resolved" else existing.status,
            "updated_at": now,
        }
    )


SEVERITIES = ["info", "low", "medium", "high", "critical"]
ROUTES = ["none", "ticket", "page"]


@given(
    bumps=st.lists(
        st.tuples(
            st.integers(0, 70),  # finding ids from a pool: redeliveries, and past 50 kept ids
            st.integers(0, 6 * 60),  # minutes into the day
            st.sampled_from(SEVERITIES),
            st.sampled_from(ROUTES),
        ),
        min_size=1,
        max_size=90,
    ),
    prior=st.sampled_from([None, "open", "acknowledged", "resolved"]),
    tier=st.sampled_from(["A", "B", "C", "D"]),
)
def test_a_batch_of_bumps_folds_to_what_one_at_a_time_gives(
    bumps: list[tuple[int, int, Severity, Route]], prior: str | None, tier: str
) -> None:
    raised = [
        (finding(f"f{n}", NOW + timedelta(minutes=minutes)), severity, route)
        for n, minutes, severity, route in bumps
    ]
    existing = None
    if prior is not None:
        existing = reference_raise(None, finding("old", NOW), "C", "medium", "ticket", NOW)
        existing = existing.model_copy(update={"status": prior})
    later = NOW + timedelta(hours=1)
    expected = existing
    for found, severity, route in raised:
        expected = reference_raise(expected, found, tier, severity, route, later)
    assert expected is not None
    folded = raise_alerts(existing, raised, tier, later, SHANGHAI)
    assert folded == expected
    assert folded.model_dump_json() == expected.model_dump_json()
    one_by_one = existing
    for found, severity, route in raised:
        one_by_one = raise_alert(one_by_one, found, tier, severity, route, later, SHANGHAI)
    assert one_by_one == expected
    if existing is not None and all(f.finding_id in existing.finding_ids for f, _, _ in raised):
        assert folded is existing  # nothing new: the stored alert as it was


def test_a_long_burst_keeps_the_latest_ids_as_one_at_a_time_does() -> None:
    raised = [(finding(f"f{n}", NOW), "high", "ticket") for n in [*range(60), 3, 59]]
    expected = None
    for found, severity, route in raised:
        expected = reference_raise(expected, found, "C", severity, route, NOW)  # type: ignore[arg-type]
    folded = raise_alerts(None, raised, "C", NOW, SHANGHAI)  # type: ignore[arg-type]
    assert folded == expected
    # f3 had been dropped from the 50 kept ids, so it counts again; f59 had not.
    assert folded.count == 61 and folded.finding_ids[-1] == "f3"
    assert len(folded.finding_ids) == MAX_FINDING_IDS
