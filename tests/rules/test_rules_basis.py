"""XB-DECLARED-BASIS-INVALID and XB-LATE-DECLARATION (spec/contracts.md, rule catalogue)."""

from __future__ import annotations

from datetime import timedelta

DBI = "XB-DECLARED-BASIS-INVALID"
LATE = "XB-LATE-DECLARATION"
PM = "XB-PATH-MISSING"
SA = "security_assessment"
TS = "2025-03-03T10:00:00Z"


def cc_log(xb, tid="t1", **kw):
    """A transfer whose path is contract_or_certification (sensitive subjects >= 1)."""
    data = {
        "categories": ["pi.general", "pi.sensitive.health"],
        "subjects": 10,
        "sensitive_subjects": 5,
    }
    data.update(kw)
    return xb.log(tid, **data)


# --------------------------------------------------------------------------- DBI: negatives
def test_matching_basis_and_ref_is_not_invalid(xb):
    findings = xb.run(
        filings=[xb.filing("fc")],
        logs=[cc_log(xb, legal_basis="standard_contract", filing_ref="fc")],
    )
    assert findings == []


def test_matching_basis_without_ref_is_not_invalid(xb):
    findings = xb.run(
        filings=[xb.filing("fc")],
        logs=[cc_log(xb, legal_basis="standard_contract", filing_ref=None)],
    )
    assert findings == []


# --------------------------------------------------------------------------- DBI: positives
def test_unknown_filing_ref(xb):
    findings = xb.run(filings=[xb.filing("fc")], logs=[cc_log(xb, filing_ref="no-such")])
    assert xb.pairs(findings) == [(DBI, "t1")]
    f = findings[0]
    assert f.severity == "medium"
    assert f.ts == xb.ts(TS)
    assert f.enterprise_id == xb.A


def test_filing_ref_of_another_enterprise(xb):
    enterprises = [xb.enterprise(), xb.enterprise(xb.B, name="Beta")]
    filings = [xb.filing("fc"), xb.filing("fb", enterprise_id=xb.B)]
    findings = xb.run(enterprises=enterprises, filings=filings, logs=[cc_log(xb, filing_ref="fb")])
    assert xb.pairs(findings) == [(DBI, "t1")]


def test_filing_ref_differs_from_covering_filing_smallest_id(xb):
    filings = [xb.filing("f-b"), xb.filing("f-a")]  # same kind: covering is f-a
    findings = xb.run(filings=filings, logs=[cc_log(xb, filing_ref="f-b")])
    assert xb.pairs(findings) == [(DBI, "t1")]


def test_filing_ref_equal_to_covering_filing_smallest_id(xb):
    filings = [xb.filing("f-b"), xb.filing("f-a")]
    assert xb.run(filings=filings, logs=[cc_log(xb, filing_ref="f-a")]) == []


def test_covering_filing_is_the_strongest_kind_first(xb):
    filings = [xb.filing("f-a", "standard_contract"), xb.filing("f-z", SA)]
    ok = xb.run(filings=filings, logs=[cc_log(xb, legal_basis=SA, filing_ref="f-z")])
    assert ok == []
    bad_ref = xb.run(filings=filings, logs=[cc_log(xb, legal_basis=SA, filing_ref="f-a")])
    assert xb.pairs(bad_ref) == [(DBI, "t1")]
    bad_basis = xb.run(filings=filings, logs=[cc_log(xb, legal_basis="standard_contract")])
    assert xb.pairs(bad_basis) == [(DBI, "t1")]


def test_legal_basis_exempt_on_a_compliant_transfer(xb):
    findings = xb.run(filings=[xb.filing("fc")], logs=[cc_log(xb, legal_basis="exempt")])
    assert xb.pairs(findings) == [(DBI, "t1")]


def test_legal_basis_differs_from_covering_kind(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract")],
        logs=[cc_log(xb, legal_basis="certification")],
    )
    assert xb.pairs(findings) == [(DBI, "t1")]


def test_legal_basis_assessment_with_covering_certification(xb):
    findings = xb.run(
        filings=[xb.filing("fcert", "certification")], logs=[cc_log(xb, legal_basis=SA)]
    )
    assert xb.pairs(findings) == [(DBI, "t1")]


def test_legal_basis_exempt_on_a_non_compliant_transfer(xb):
    findings = xb.run(logs=[cc_log(xb, legal_basis="exempt")])
    assert xb.pairs(findings) == [(DBI, "t1"), (PM, "t1")]


def test_unknown_filing_ref_on_a_non_compliant_transfer(xb):
    findings = xb.run(logs=[cc_log(xb, filing_ref="no-such")])
    assert xb.pairs(findings) == [(DBI, "t1"), (PM, "t1")]


# --------------------------------------------------------------------------- DBI: exempt
def test_not_on_small_volume_exempt_transfer(xb):
    logs = [
        xb.log("t1", legal_basis=SA, filing_ref="no-such", ts="2025-03-01T00:00:00Z"),
        xb.log("t2", legal_basis="certification", ts="2025-03-02T00:00:00Z"),
        xb.log("t3", legal_basis="exempt", ts="2025-03-03T00:00:00Z"),
    ]
    assert xb.run(filings=[xb.filing("fc")], logs=logs) == []


def test_not_on_exempt_purpose_transfer(xb):
    log = cc_log(xb, purpose="hr_management", legal_basis=SA, filing_ref="no-such")
    assert xb.run(filings=[xb.filing("fc")], logs=[log]) == []


def test_not_on_exempt_non_personal_transfer(xb):
    log = xb.log(
        categories=["business.sales"],
        legal_basis="certification",
        filing_ref="fc",
        sensitive_subjects=3,
    )
    assert xb.run(filings=[xb.filing("fc")], logs=[log]) == []


# --------------------------------------------------------------------------- LATE-DECLARATION
def test_received_exactly_24h_later_is_not_late(xb):
    log = xb.log(ts=TS, received_at="2025-03-04T10:00:00Z")
    assert xb.run(logs=[log]) == []


def test_received_24h_and_1s_later_is_late(xb):
    log = xb.log(ts=TS, received_at="2025-03-04T10:00:01Z")
    findings = xb.run(logs=[log])
    assert xb.pairs(findings) == [(LATE, "t1")]
    f = findings[0]
    assert f.severity == "low"
    assert f.enterprise_id == xb.A


def test_received_at_with_offset_is_compared_in_utc(xb):
    # 2025-03-04T18:00:00+08:00 == 2025-03-04T10:00:00Z: exactly 24 h, not late
    log = xb.log(ts=TS, received_at="2025-03-04T18:00:00+08:00")
    assert xb.run(logs=[log]) == []


def test_no_received_at_no_late_finding(xb):
    assert xb.run(logs=[xb.log(ts="2020-01-01T00:00:00Z", received_at=None)]) == []


def test_received_before_ts_is_not_late(xb):
    assert xb.run(logs=[xb.log(ts=TS, received_at="2025-03-03T09:00:00Z")]) == []


def test_late_on_a_non_compliant_transfer_too(xb):
    findings = xb.run(logs=[cc_log(xb, received_at="2025-03-10T00:00:00Z")])
    assert xb.pairs(findings) == [(LATE, "t1"), (PM, "t1")]


def test_late_on_an_exempt_purpose_transfer(xb):
    log = xb.log(purpose="emergency", received_at="2025-03-10T00:00:00Z")
    assert xb.pairs(xb.run(logs=[log])) == [(LATE, "t1")]


def test_declaration_deadline_is_configuration(xb):
    from pipeline.config import default_rules_config

    cfg = default_rules_config().model_copy(update={"declaration_deadline_hours": 1})
    on_time = xb.log("t1", ts=TS, received_at=xb.ts(TS) + timedelta(hours=1))
    late = xb.log("t2", ts=TS, received_at=xb.ts(TS) + timedelta(hours=1, seconds=1))
    findings = xb.run(logs=[on_time, late], config=cfg)
    assert xb.pairs(findings) == [(LATE, "t2")]


def test_a_changed_copy_of_the_parameters_derives_its_own_values():
    from pipeline.config import default_rules_config

    base = default_rules_config()
    assert base.declaration_deadline == timedelta(hours=base.declaration_deadline_hours)
    assert base.summary["declaration_deadline_hours"] == base.declaration_deadline_hours
    copy = base.model_copy(update={"declaration_deadline_hours": 1})
    assert copy.declaration_deadline == timedelta(hours=1)
    assert copy.summary["declaration_deadline_hours"] == 1  # evidence names what was used
    assert base.declaration_deadline == timedelta(hours=base.declaration_deadline_hours)


def test_filing_ref_to_own_pending_filing_differs_from_covering(xb):
    filings = [xb.filing("f-a"), xb.filing("f-p", status="pending")]
    findings = xb.run(filings=filings, logs=[cc_log(xb, filing_ref="f-p")])
    assert xb.pairs(findings) == [(DBI, "t1")]


def test_basis_checked_against_covering_filing_not_any_filing(xb):
    # holds an assessment (out of scope) and a contract (covering): claiming the assessment
    # kind differs from the covering filing's kind
    filings = [xb.filing("f-sa", SA, countries=["DE"]), xb.filing("f-sc", "standard_contract")]
    findings = xb.run(filings=filings, logs=[cc_log(xb, legal_basis=SA)])
    assert xb.pairs(findings) == [(DBI, "t1")]
    ok = xb.run(
        filings=filings, logs=[cc_log(xb, legal_basis="standard_contract", filing_ref="f-sc")]
    )
    assert ok == []
