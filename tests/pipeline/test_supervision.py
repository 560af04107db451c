"""Supervision in the stream: profiles feed scores, findings become tier-adjusted alerts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pipeline.alerts import Alert
from pipeline.config import default_rules_config
from pipeline.reference_files import load_country_risk
from pipeline.rules.engine import Engine
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import ScoringProfile
from pipeline.scoring.config import default_scoring_config
from pipeline.supervision import (
    ALERTS_KEPT,
    FINDINGS_KEPT_DAYS,
    FINDINGS_KEPT_MAX,
    Supervisor,
    finding_records,
    record_findings,
    scoring_inputs,
)
from schemas.models import Enterprise, Filing, TransferLog

E1 = "91110000600037341L"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def log(transfer_id: str, **over: Any) -> TransferLog:
    base = {
        "transfer_id": transfer_id,
        "enterprise_id": E1,
        "ts": (NOW - timedelta(days=1)).isoformat(),
        "recipient": "Acme GmbH",
        "country": "DE",
        "categories": ["pi.general"],
        "subjects": 10,
        "sensitive_subjects": 0,
        "records": 1,
        "bytes": 1000,
        "purpose": "business",
        "legal_basis": "exempt",
    }
    return TransferLog.model_validate({**base, **over})


def supervisor(filings: list[Filing] = (), ciio: bool = False) -> Supervisor:  # type: ignore[assignment]
    enterprise = Enterprise.model_validate(
        {"enterprise_id": E1, "name": "A", "sector": "other", "region": "beijing", "is_ciio": ciio}
    )
    reference = ReferenceIndex.build([enterprise], list(filings), [])
    engine = Engine(reference, default_rules_config())
    return Supervisor(engine, default_scoring_config(), load_country_risk())


def run(sup: Supervisor, *logs: TransferLog) -> tuple[list[Any], list[Any]]:
    findings = [f.finding for log_ in logs for f in sup.engine.transfer(log_)]
    return sup.after_batch(list(logs), [], findings, {E1}, NOW)


def test_a_clean_enterprise_is_scored_and_raises_no_alert() -> None:
    sup = supervisor()
    events, alerts = run(sup, log("t1"))
    (event,) = events
    assert event.enterprise_id == E1 and event.trigger == "batch" and alerts == []
    assert event.score.tier in ("A", "B")
    assert (
        sum(c.points for c in event.score.contributions if c.score == "credit")
        == event.score.credit
    )
    profile = sup.engine.state(E1).profile
    assert (profile.logs, profile.bytes_by_country) == (1, {"DE": 1000})


def test_findings_lower_credit_and_become_alerts_by_tier_policy() -> None:
    sup = supervisor()
    before, _ = run(sup, log("t0"))
    # Important data without an assessment: PATH-MISSING (high) + DECLARED-BASIS-INVALID.
    events, alerts = run(sup, log("t1", categories=["important.geo"]))
    assert events[0].score.credit < before[0].score.credit
    assert events[0].score.risk > before[0].score.risk
    by_rule = {a.rule_id: a for a in alerts}
    assert by_rule["XB-PATH-MISSING"].route == "page"  # high pages at every tier
    assert by_rule["XB-DECLARED-BASIS-INVALID"].route == "ticket"
    assert all(a.tier == events[0].score.tier for a in alerts)


def test_repeated_findings_of_a_day_group_into_one_alert() -> None:
    sup = supervisor()
    run(sup, log("t1", categories=["important.geo"]))
    _, alerts = run(sup, log("t2", categories=["important.geo"]))
    missing = next(a for a in alerts if a.rule_id == "XB-PATH-MISSING")
    assert missing.count == 2


def test_a_d_tier_enterprise_pages_on_a_medium_finding() -> None:
    sup = supervisor(ciio=True)
    profile = sup.engine.state(E1).profile
    profile.score = {"credit": 10.0, "risk": 90.0, "tier": "D", "computed_at": "x"}
    finding = next(
        f.finding
        for f in sup.engine.transfer(log("t1", legal_basis="standard_contract", filing_ref="F-x"))
        if f.finding.severity == "medium"
    )
    (alert,) = sup.alerts([finding], NOW)
    assert (alert.tier, alert.severity, alert.route) == ("D", "high", "page")


def test_filings_feed_coverage_and_certification() -> None:
    filing = Filing.model_validate(
        {
            "filing_id": "F-1",
            "enterprise_id": E1,
            "kind": "certification",
            "status": "active",
            "valid_from": "2025-01-01T00:00:00Z",
            "countries": ["DE"],
        }
    )
    sup = supervisor([filing])
    run(sup, log("t1"), log("t2", country="US"))
    inputs = scoring_inputs(E1, sup.engine.state(E1), sup.engine, NOW)
    assert inputs.valid_filings == 1 and inputs.has_certification
    assert inputs.covered_destinations == frozenset({"DE"})
    assert inputs.bytes_by_country == {"DE": 1000, "US": 1000}


def test_rescore_reports_a_tier_change() -> None:
    sup = supervisor()
    sup.engine.state(E1).profile.score = {"credit": 0, "risk": 100, "tier": "D", "computed_at": "x"}
    event = sup.rescore(E1, NOW, "filing")
    assert event.previous_tier == "D" and event.tier_changed and event.trigger == "filing"


def test_a_resolved_alert_stops_its_findings_counting_as_unresolved() -> None:
    sup = supervisor()
    events, alerts = run(sup, log("t1", categories=["important.geo"]))
    before = events[0].score
    finding_ids = [fid for a in alerts for fid in a.finding_ids]
    after, _ = sup.after_batch([], [], [], {E1}, NOW, [(E1, finding_ids)])
    unresolved = {
        s: next(c.points for c in s.contributions if c.indicator == "unresolved")
        for s in (before, after[0].score)
    }
    assert unresolved[before] < 0 and unresolved[after[0].score] == 0
    assert after[0].score.credit > before.credit


def _record_findings_plainly(profile: ScoringProfile, findings: list[Any]) -> None:
    """The rule as first written (append unknown ids, sort, prune by age and count)."""
    known = {kept[0] for kept in profile.findings}
    for f in findings:
        if f.finding_id not in known:
            known.add(f.finding_id)
            profile.findings.append((f.finding_id, f.rule_id, f.severity, f.ts))
    if not profile.findings:
        return
    profile.findings.sort(key=lambda kept: kept[3])
    horizon = profile.findings[-1][3] - timedelta(days=FINDINGS_KEPT_DAYS)
    profile.findings = [f for f in profile.findings if f[3] >= horizon][-FINDINGS_KEPT_MAX:]
    profile.resolved &= {kept[0] for kept in profile.findings}


def test_recorded_findings_are_those_of_the_plain_rule() -> None:
    rng = random.Random(7)
    fast, plain = ScoringProfile(), ScoringProfile()
    for step in range(300):
        batch = [
            SimpleNamespace(
                finding_id=f"f{rng.randrange(900)}",  # repeats: kept once
                rule_id="XB-PATH-MISSING",
                severity="high",
                ts=NOW + timedelta(days=step * 3 - rng.randrange(900)),  # late ones too
            )
            for _ in range(rng.randrange(6))
        ]
        resolved = {f"f{rng.randrange(900)}"} if step % 7 == 0 else set()
        fast.resolved |= resolved
        plain.resolved |= resolved
        record_findings(fast, batch)  # type: ignore[arg-type]
        _record_findings_plainly(plain, batch)
        assert fast.findings == plain.findings
        assert fast.resolved == plain.resolved
    assert len(plain.findings) > 100  # the case exercised pruning by age or count


def test_finding_records_are_kept_between_scores_and_follow_resolution_and_pruning() -> None:
    profile = supervisor().engine.state(E1).profile
    profile.findings = [(f"f{i}", "XB-PATH-MISSING", "high", NOW) for i in range(100)]
    first = finding_records(profile)
    assert finding_records(profile)[0] is first[0]  # not rebuilt for the next score
    profile.resolved.add("f0")
    assert finding_records(profile)[0].resolved and not first[0].resolved
    profile.findings = profile.findings[-2:]  # pruned: their records go with them
    assert [r.resolved for r in finding_records(profile)] == [False, False]
    assert set(profile.records) == {"f98", "f99"}


def test_alerts_not_updated_within_two_days_are_pruned() -> None:
    sup = supervisor()
    old = next(f.finding for f in sup.engine.transfer(log("t1", categories=["important.geo"])))
    sup.alerts([old], NOW)
    profile = sup.engine.state(E1).profile
    (kept,) = profile.alerts
    later = old.model_copy(update={"ts": NOW + timedelta(days=3), "finding_id": "later"})
    # Within the hour after a prune, nothing is pruned; bumping another alert keeps both.
    sup.alerts([later], NOW + timedelta(minutes=30))
    assert kept in profile.alerts and len(profile.alerts) == 2
    # Past two days since its last update (and an hour since the last prune): gone.
    sup.alerts([later], NOW + ALERTS_KEPT + timedelta(minutes=1))
    assert kept not in profile.alerts and len(profile.alerts) == 1


def test_a_batch_bumps_the_stored_alert_without_parsing_the_others(monkeypatch) -> None:
    sup = supervisor()
    finding = next(f.finding for f in sup.engine.transfer(log("t1", categories=["important.geo"])))
    sup.alerts([finding], NOW)
    profile = sup.engine.state(E1).profile
    (key,) = profile.alerts
    for day in range(1, 200):  # other days' alerts of the same rule, all recent
        profile.alerts[f"other-{day}"] = profile.alerts[key]
    parsed: list[str] = []
    validate = Alert.model_validate_json

    def counting(raw: str | bytes) -> Alert:
        parsed.append(str(raw))
        return validate(raw)

    monkeypatch.setattr(Alert, "model_validate_json", counting)
    (bumped,) = sup.alerts([finding.model_copy(update={"finding_id": "again"})], NOW)
    assert bumped.count == 2 and len(parsed) == 1
    assert Alert.model_validate_json(profile.alerts[key]).count == 2
