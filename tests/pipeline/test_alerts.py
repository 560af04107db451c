"""Alert grouping by (enterprise, rule, day) and the open -> acknowledged -> resolved lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.alerts import AlertError, alert_id, raise_alert, transition
from schemas.models import Finding

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
