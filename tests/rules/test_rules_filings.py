"""Filings: kinds, validity, revocation, the 3-year default, scope, quota, expiring notices
(spec/contracts.md, "Filings" and the rule catalogue)."""

from __future__ import annotations

PM = "XB-PATH-MISSING"
PI = "XB-PATH-INSUFFICIENT"
EXP = "XB-FILING-EXPIRED"
REV = "XB-FILING-REVOKED"
VOL = "XB-VOLUME-EXCEEDED"
SR = "XB-SCOPE-RECIPIENT"
SC = "XB-SCOPE-COUNTRY"
SCAT = "XB-SCOPE-CATEGORY"
SP = "XB-SCOPE-PURPOSE"
EXPG = "XB-FILING-EXPIRING"
SA = "security_assessment"
CC = "contract_or_certification"
TS = "2025-03-03T10:00:00Z"


def cc_log(xb, tid="t1", **kw):
    """A transfer whose path is contract_or_certification (sensitive subjects >= 1, step 6)."""
    data = {
        "categories": ["pi.general", "pi.sensitive.health"],
        "subjects": 10,
        "sensitive_subjects": 5,
    }
    data.update(kw)
    return xb.log(tid, **data)


def sa_log(xb, tid="t1", **kw):
    """A transfer whose path is security_assessment (important data, step 3)."""
    data = {"categories": ["important.geo"], "subjects": 0, "legal_basis": SA}
    data.update(kw)
    return xb.log(tid, **data)


# --------------------------------------------------------------------------- kinds
def test_standard_contract_satisfies_contract_path(xb):
    assert xb.run(filings=[xb.filing("fc", "standard_contract")], logs=[cc_log(xb)]) == []


def test_certification_satisfies_contract_path(xb):
    findings = xb.run(
        filings=[xb.filing("fcert", "certification")],
        logs=[cc_log(xb, legal_basis="certification")],
    )
    assert findings == []


def test_assessment_satisfies_contract_path(xb):
    findings = xb.run(filings=[xb.filing("fsa", SA)], logs=[cc_log(xb, legal_basis=SA)])
    assert findings == []


def test_assessment_satisfies_assessment_path(xb):
    assert xb.run(filings=[xb.filing("fsa", SA)], logs=[sa_log(xb)]) == []


def test_contract_path_without_filings_is_path_missing(xb):
    findings = xb.run(logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(PM, "t1")]
    f = findings[0]
    assert f.required_path == CC
    assert f.severity == "high"
    assert f.ts == xb.ts(TS)
    assert f.enterprise_id == xb.A


def test_assessment_path_with_standard_contract_is_insufficient(xb):
    findings = xb.run(filings=[xb.filing("fc", "standard_contract")], logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(PI, "t1")]
    assert findings[0].required_path == SA
    assert findings[0].severity == "high"


def test_assessment_path_with_certification_is_insufficient(xb):
    findings = xb.run(filings=[xb.filing("fcert", "certification")], logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(PI, "t1")]


def test_assessment_path_with_pending_assessment_and_contract_is_insufficient(xb):
    filings = [xb.filing("fsa", SA, status="pending"), xb.filing("fc", "standard_contract")]
    findings = xb.run(filings=filings, logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(PI, "t1")]


def test_pending_assessment_only_is_path_missing(xb):
    findings = xb.run(filings=[xb.filing("fsa", SA, status="pending")], logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == SA


def test_pending_weaker_filing_is_not_held(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract", status="pending")], logs=[sa_log(xb)]
    )
    assert xb.pairs(findings) == [(PM, "t1")]


def test_pending_contract_never_covers(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract", status="pending")], logs=[cc_log(xb)]
    )
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == CC


def test_another_enterprises_filing_does_not_cover(xb):
    enterprises = [xb.enterprise(), xb.enterprise(xb.B, name="Beta")]
    findings = xb.run(
        enterprises=enterprises,
        filings=[xb.filing("fb", "standard_contract", enterprise_id=xb.B)],
        logs=[cc_log(xb)],
    )
    assert xb.pairs(findings) == [(PM, "t1")]


# --------------------------------------------------------------------------- validity
def test_valid_from_equal_to_ts_is_valid(xb):
    findings = xb.run(filings=[xb.filing("fc", valid_from=TS)], logs=[cc_log(xb)])
    assert findings == []


def test_not_yet_valid_is_path_missing(xb):
    findings = xb.run(
        filings=[xb.filing("fc", valid_from="2025-03-03T10:00:01Z")], logs=[cc_log(xb)]
    )
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == CC


def test_valid_until_equal_to_ts_is_valid(xb):
    findings = xb.run(filings=[xb.filing("fc", valid_until=TS)], logs=[cc_log(xb)])
    # valid (ts <= valid_until); its validity end is within 30 days after ts
    assert xb.pairs(findings) == [(EXPG, "t1")]


def test_expired_one_second_is_filing_expired(xb):
    findings = xb.run(
        filings=[xb.filing("fc", valid_until="2025-03-03T09:59:59Z")], logs=[cc_log(xb)]
    )
    assert xb.pairs(findings) == [(EXP, "t1")]
    f = findings[0]
    assert f.severity == "high"
    assert f.required_path == CC
    assert "fc" in f.filing_ids


def test_revoked_at_in_the_past_is_filing_revoked(xb):
    filing = xb.filing("fc", status="active", revoked_at="2025-01-01T00:00:00Z")
    findings = xb.run(filings=[filing], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [("XB-FILING-REVOKED", "t1")]
    f = findings[0]
    assert f.severity == "critical"
    assert f.required_path == CC
    assert "fc" in f.filing_ids


def test_revoked_at_equal_to_ts_is_revoked(xb):
    findings = xb.run(filings=[xb.filing("fc", revoked_at=TS)], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(REV, "t1")]


def test_status_revoked_with_revoked_at_in_the_future_still_covers(xb):
    filing = xb.filing("fc", status="revoked", revoked_at="2025-06-01T00:00:00Z")
    assert xb.run(filings=[filing], logs=[cc_log(xb)]) == []


def test_status_active_with_revoked_at_in_the_future_covers(xb):
    filing = xb.filing("fc", status="active", revoked_at="2025-06-01T00:00:00Z")
    assert xb.run(filings=[filing], logs=[cc_log(xb)]) == []


def test_status_revoked_without_revoked_at_is_revoked_at_every_time(xb):
    findings = xb.run(filings=[xb.filing("fc", status="revoked")], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(REV, "t1")]


def test_status_revoked_without_revoked_at_before_valid_from_is_revoked(xb):
    filing = xb.filing("fc", status="revoked", valid_from="2026-01-01T00:00:00Z")
    findings = xb.run(filings=[filing], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(REV, "t1")]


def test_revoked_takes_precedence_over_expired(xb):
    filings = [
        xb.filing("fa", valid_until="2025-01-01T00:00:00Z"),
        xb.filing("fb", revoked_at="2025-02-01T00:00:00Z"),
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(REV, "t1")]


def test_expired_takes_precedence_over_not_yet_valid(xb):
    filings = [
        xb.filing("fa", valid_from="2026-01-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z"),
        xb.filing("fb", valid_until="2025-01-01T00:00:00Z"),
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(EXP, "t1")]


def test_future_revocation_of_an_expired_filing_is_expired(xb):
    filing = xb.filing("fc", valid_until="2025-01-01T00:00:00Z", revoked_at="2025-06-01T00:00:00Z")
    findings = xb.run(filings=[filing], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(EXP, "t1")]


def test_expired_assessment_on_assessment_path_is_expired_not_insufficient(xb):
    filings = [
        xb.filing("fsa", SA, valid_until="2025-01-01T00:00:00Z"),
        xb.filing("fc", "standard_contract"),
    ]
    findings = xb.run(filings=filings, logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(EXP, "t1")]
    assert findings[0].required_path == SA


def test_one_valid_filing_is_enough_next_to_revoked_ones(xb):
    filings = [xb.filing("fa", status="revoked"), xb.filing("fb")]
    assert xb.run(filings=filings, logs=[cc_log(xb)]) == []


# --------------------------------------------------------------------------- 3-year default
def test_assessment_null_valid_until_valid_within_three_years(xb):
    filing = xb.filing("fsa", SA, valid_from="2022-03-01T10:00:00+08:00", valid_until=None)
    findings = xb.run(filings=[filing], logs=[sa_log(xb, ts="2024-03-01T10:00:00+08:00")])
    assert findings == []


def test_assessment_null_valid_until_expires_after_three_years(xb):
    filing = xb.filing("fsa", SA, valid_from="2022-03-01T10:00:00+08:00", valid_until=None)
    findings = xb.run(filings=[filing], logs=[sa_log(xb, ts="2025-03-02T10:00:00+08:00")])
    assert xb.pairs(findings) == [(EXP, "t1")]


def test_assessment_null_valid_until_just_before_three_years_is_valid_and_expiring(xb):
    filing = xb.filing("fsa", SA, valid_from="2022-03-01T10:00:00+08:00", valid_until=None)
    findings = xb.run(filings=[filing], logs=[sa_log(xb, ts="2025-02-28T10:00:00+08:00")])
    assert xb.pairs(findings) == [(EXPG, "t1")]
    assert findings[0].severity == "info"


def test_assessment_leap_day_expires_on_28_february_shanghai(xb):
    # 2024-02-29T01:00+08:00 = 2024-02-28T17:00Z; + 3 years in Asia/Shanghai is
    # 2027-02-28T01:00+08:00 (= 2027-02-27T17:00Z). 2027-02-28T12:00+08:00 is after that.
    filing = xb.filing("fsa", SA, valid_from="2024-02-29T01:00:00+08:00", valid_until=None)
    findings = xb.run(filings=[filing], logs=[sa_log(xb, ts="2027-02-28T12:00:00+08:00")])
    assert xb.pairs(findings) == [(EXP, "t1")]


def test_assessment_leap_day_still_valid_just_before_28_february_expiry(xb):
    filing = xb.filing("fsa", SA, valid_from="2024-02-29T01:00:00+08:00", valid_until=None)
    findings = xb.run(filings=[filing], logs=[sa_log(xb, ts="2027-02-28T00:30:00+08:00")])
    assert xb.pairs(findings) == [(EXPG, "t1")]


def test_assessment_leap_day_expired_on_1_march(xb):
    filing = xb.filing("fsa", SA, valid_from="2024-02-29T01:00:00+08:00", valid_until=None)
    findings = xb.run(filings=[filing], logs=[sa_log(xb, ts="2027-03-01T00:30:00+08:00")])
    assert xb.pairs(findings) == [(EXP, "t1")]


def test_standard_contract_null_valid_until_never_expires(xb):
    filing = xb.filing("fc", valid_from="2010-01-01T00:00:00Z", valid_until=None)
    assert xb.run(filings=[filing], logs=[cc_log(xb)]) == []


def test_certification_null_valid_until_never_expires(xb):
    filing = xb.filing(
        "fcert", "certification", valid_from="2010-01-01T00:00:00Z", valid_until=None
    )
    findings = xb.run(filings=[filing], logs=[cc_log(xb, legal_basis="certification")])
    assert findings == []


def test_explicit_valid_until_of_assessment_is_used(xb):
    filing = xb.filing(
        "fsa", SA, valid_from="2020-01-01T00:00:00Z", valid_until="2029-01-01T00:00:00Z"
    )
    assert xb.run(filings=[filing], logs=[sa_log(xb)]) == []


# --------------------------------------------------------------------------- scope
def test_scope_recipient(xb):
    findings = xb.run(filings=[xb.filing("fc", recipients=["acme-de"])], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SR, "t1")]
    f = findings[0]
    assert f.severity == "medium"
    assert f.required_path == CC
    assert "fc" in f.filing_ids


def test_scope_recipient_listed_covers(xb):
    filing = xb.filing("fc", recipients=["acme-de", "acme-us"])
    assert xb.run(filings=[filing], logs=[cc_log(xb)]) == []


def test_scope_country(xb):
    findings = xb.run(filings=[xb.filing("fc", countries=["DE", "SG"])], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SC, "t1")]
    assert findings[0].severity == "medium"


def test_scope_country_listed_covers(xb):
    assert xb.run(filings=[xb.filing("fc", countries=["US"])], logs=[cc_log(xb)]) == []


def test_scope_category_not_every_category(xb):
    findings = xb.run(filings=[xb.filing("fc", categories=["pi.general"])], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SCAT, "t1")]
    assert findings[0].severity == "medium"


def test_scope_category_prefix_covers(xb):
    filing = xb.filing("fc", categories=["pi.general", "pi.sensitive"])
    assert xb.run(filings=[filing], logs=[cc_log(xb)]) == []


def test_scope_category_top_level_prefix_covers(xb):
    assert xb.run(filings=[xb.filing("fc", categories=["pi"])], logs=[cc_log(xb)]) == []


def test_scope_category_longer_filing_category_does_not_cover_shorter(xb):
    filing = xb.filing("fc", categories=["pi.general", "pi.sensitive.health.records"])
    findings = xb.run(filings=[filing], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SCAT, "t1")]


def test_scope_category_whole_segments_pi_does_not_cover_pipeline(xb):
    log = xb.log(categories=["pipeline.telemetry"], sensitive_subjects=1)
    findings = xb.run(filings=[xb.filing("fc", categories=["pi"])], logs=[log])
    assert xb.pairs(findings) == [(SCAT, "t1")]


def test_scope_purpose(xb):
    findings = xb.run(filings=[xb.filing("fc", purposes=["research"])], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SP, "t1")]
    assert findings[0].severity == "medium"


def test_scope_purpose_listed_covers(xb):
    filing = xb.filing("fc", purposes=["research", "business"])
    assert xb.run(filings=[filing], logs=[cc_log(xb)]) == []


def test_scope_every_failed_point_of_one_filing(xb):
    filing = xb.filing(
        "fc", recipients=["x"], countries=["DE"], categories=["pi.general"], purposes=["research"]
    )
    findings = xb.run(filings=[filing], logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SCAT, "t1"), (SC, "t1"), (SP, "t1"), (SR, "t1")]
    assert len({f.finding_id for f in findings}) == 4


def test_scope_fewest_failed_points_wins(xb):
    filings = [
        xb.filing("f-a", recipients=["x"], countries=["DE"]),  # 2 failed points
        xb.filing("f-b", purposes=["research"]),  # 1 failed point
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SP, "t1")]
    assert "f-b" in findings[0].filing_ids


def test_scope_tie_smallest_filing_id(xb):
    filings = [
        xb.filing("f-b", recipients=["x"]),
        xb.filing("f-a", countries=["DE"]),
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SC, "t1")]
    assert "f-a" in findings[0].filing_ids


def test_scope_only_valid_filings_are_considered(xb):
    filings = [
        xb.filing("f-a", valid_until="2025-01-01T00:00:00Z"),  # in scope but expired
        xb.filing("f-b", countries=["DE"]),  # valid, out of scope
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SC, "t1")]


def test_scope_one_covering_filing_is_enough(xb):
    filings = [xb.filing("f-a", countries=["DE"]), xb.filing("f-b", countries=["US"])]
    assert xb.run(filings=filings, logs=[cc_log(xb)]) == []


def test_scope_on_assessment_path_looks_only_at_assessments(xb):
    filings = [
        xb.filing("fc", "standard_contract"),  # weaker, in scope: not in K
        xb.filing("fsa", SA, countries=["DE"]),
    ]
    findings = xb.run(filings=filings, logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(SC, "t1")]
    assert findings[0].required_path == SA


# --------------------------------------------------------------------------- quota
def test_quota_reached_exactly_is_within(xb):
    logs = [
        cc_log(xb, "t1", subjects=50, sensitive_subjects=10, ts="2025-03-01T00:00:00Z"),
        cc_log(xb, "t2", subjects=30, sensitive_subjects=10, ts="2025-03-02T00:00:00Z"),
    ]
    assert xb.run(filings=[xb.filing("fc", max_subjects=100)], logs=logs) == []


def test_quota_exceeded_by_one(xb):
    logs = [
        cc_log(xb, "t1", subjects=50, sensitive_subjects=10, ts="2025-03-01T00:00:00Z"),
        cc_log(xb, "t2", subjects=30, sensitive_subjects=10, ts="2025-03-02T00:00:00Z"),
        cc_log(xb, "t3", subjects=0, sensitive_subjects=1, ts="2025-03-03T00:00:00Z"),
    ]
    findings = xb.run(filings=[xb.filing("fc", max_subjects=100)], logs=logs)
    assert xb.pairs(findings) == [(VOL, "t3")]
    f = findings[0]
    assert f.severity == "high"
    assert f.required_path == CC
    assert f.ts == xb.ts("2025-03-03T00:00:00Z")
    assert "fc" in f.filing_ids


def test_quota_single_transfer_over(xb):
    findings = xb.run(
        filings=[xb.filing("fc", max_subjects=100)],
        logs=[cc_log(xb, subjects=96, sensitive_subjects=5)],
    )
    assert xb.pairs(findings) == [(VOL, "t1")]


def test_quota_over_quota_transfers_keep_using_quota(xb):
    logs = [
        cc_log(xb, "t1", subjects=145, sensitive_subjects=5, ts="2025-03-01T00:00:00Z"),
        cc_log(xb, "t2", subjects=0, sensitive_subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(filings=[xb.filing("fc", max_subjects=100)], logs=logs)
    assert xb.pairs(findings) == [(VOL, "t1"), (VOL, "t2")]


def test_quota_is_per_calendar_year(xb):
    logs = [
        cc_log(xb, "t1", subjects=90, sensitive_subjects=10, ts="2024-12-31T23:30:00+08:00"),
        cc_log(xb, "t2", subjects=90, sensitive_subjects=10, ts="2025-01-01T00:30:00+08:00"),
    ]
    assert xb.run(filings=[xb.filing("fc", max_subjects=100)], logs=logs) == []


def test_quota_not_used_by_exempt_transfers(xb):
    logs = [
        xb.log("t1", subjects=90, ts="2025-03-01T00:00:00Z"),  # exempt_small_volume
        xb.log(
            "t2",
            subjects=90,
            purpose="hr_management",
            sensitive_subjects=9,
            ts="2025-03-01T12:00:00Z",
        ),  # exempt_purpose
        cc_log(xb, "t3", subjects=15, sensitive_subjects=5, ts="2025-03-02T00:00:00Z"),
    ]
    assert xb.run(filings=[xb.filing("fc", max_subjects=20)], logs=logs) == []


def test_quota_another_in_scope_filing_within_quota_is_compliant(xb):
    filings = [xb.filing("f-a", max_subjects=10), xb.filing("f-b")]
    assert xb.run(filings=filings, logs=[cc_log(xb, subjects=50)]) == []


# --------------------------------------------------------------------------- FILING-EXPIRING
def test_filing_expiring_within_30_days(xb):
    findings = xb.run(
        filings=[xb.filing("fc", valid_until="2025-03-13T10:00:00Z")], logs=[cc_log(xb)]
    )
    assert xb.pairs(findings) == [(EXPG, "t1")]
    f = findings[0]
    assert f.severity == "info"
    assert "fc" in f.filing_ids


def test_filing_not_expiring_beyond_30_days(xb):
    findings = xb.run(
        filings=[xb.filing("fc", valid_until="2025-04-12T10:00:00Z")], logs=[cc_log(xb)]
    )
    assert findings == []


def test_filing_expiring_once_per_filing(xb):
    logs = [
        cc_log(xb, "t1", ts="2025-03-03T10:00:00Z"),
        cc_log(xb, "t2", ts="2025-03-05T10:00:00Z"),
        cc_log(xb, "t3", ts="2025-03-07T10:00:00Z"),
    ]
    findings = xb.run(filings=[xb.filing("fc", valid_until="2025-03-13T10:00:00Z")], logs=logs)
    assert xb.pairs(findings) == [(EXPG, "t1")]


def test_filing_expiring_one_per_filing_two_filings(xb):
    filings = [
        xb.filing("f-us", recipients=["acme-us"], valid_until="2025-03-13T10:00:00Z"),
        xb.filing("f-de", recipients=["acme-de"], valid_until="2025-03-20T10:00:00Z"),
    ]
    logs = [
        cc_log(xb, "t1", ts="2025-03-03T10:00:00Z"),
        cc_log(xb, "t2", recipient="acme-de", ts="2025-03-04T10:00:00Z"),
        cc_log(xb, "t3", recipient="acme-de", ts="2025-03-05T10:00:00Z"),
    ]
    findings = xb.run(filings=filings, logs=logs)
    assert xb.pairs(findings) == [(EXPG, "t1"), (EXPG, "t2")]
    assert findings[0].finding_id != findings[1].finding_id


def test_filing_expiring_only_for_the_covering_filing(xb):
    filings = [
        xb.filing("f-a", "standard_contract", valid_until="2025-03-13T10:00:00Z"),
        xb.filing("f-z", SA, valid_until="2029-01-01T00:00:00Z"),  # strongest: covering
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb, legal_basis=SA)])
    assert findings == []


def test_filing_expiring_not_for_exempt_transfers(xb):
    filing = xb.filing("fc", valid_until="2025-03-13T10:00:00Z")
    assert xb.run(filings=[filing], logs=[xb.log(subjects=10)]) == []


# --------------------------------------------------------------------------- mixed outcomes
def test_valid_out_of_scope_beats_revoked_in_scope(xb):
    filings = [
        xb.filing("f-a", revoked_at="2025-01-01T00:00:00Z"),  # in scope, revoked
        xb.filing("f-b", purposes=["research"]),  # valid, out of scope
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb)])
    assert xb.pairs(findings) == [(SP, "t1")]


def test_over_quota_beats_out_of_scope(xb):
    filings = [
        xb.filing("f-a", countries=["DE"]),  # valid, out of scope
        xb.filing("f-b", max_subjects=5),  # valid, in scope, over quota
    ]
    findings = xb.run(filings=filings, logs=[cc_log(xb, subjects=10, sensitive_subjects=5)])
    assert xb.pairs(findings) == [(VOL, "t1")]
    assert "f-b" in findings[0].filing_ids


def test_quota_counts_sensitive_subjects(xb):
    findings = xb.run(
        filings=[xb.filing("fc", max_subjects=100)],
        logs=[cc_log(xb, subjects=0, sensitive_subjects=101)],
    )
    assert xb.pairs(findings) == [(VOL, "t1")]


def test_revoked_assessment_on_assessment_path_is_revoked_not_insufficient(xb):
    filings = [xb.filing("fsa", SA, status="revoked"), xb.filing("fc", "standard_contract")]
    findings = xb.run(filings=filings, logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(REV, "t1")]
    assert findings[0].required_path == SA


def test_not_yet_valid_assessment_next_to_valid_contract_is_path_missing(xb):
    # K (assessments) is not empty, none is valid yet: PATH-MISSING, not PATH-INSUFFICIENT
    filings = [
        xb.filing("fsa", SA, valid_from="2026-01-01T00:00:00Z"),
        xb.filing("fc", "standard_contract"),
    ]
    findings = xb.run(filings=filings, logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == SA


def test_pending_and_expired_assessments_are_expired(xb):
    filings = [
        xb.filing("f-a", SA, status="pending"),
        xb.filing("f-b", SA, valid_until="2025-01-01T00:00:00Z"),
    ]
    findings = xb.run(filings=filings, logs=[sa_log(xb)])
    assert xb.pairs(findings) == [(EXP, "t1")]


def test_scope_category_every_category_business_included(xb):
    log = cc_log(xb, categories=["pi.general", "business.sales"])
    findings = xb.run(filings=[xb.filing("fc", categories=["pi"])], logs=[log])
    assert xb.pairs(findings) == [(SCAT, "t1")]


def test_expiring_notice_days_is_configuration(xb):
    from pipeline.config import default_rules_config

    cfg = default_rules_config().model_copy(update={"expiring_notice_days": 5})
    filing = xb.filing("fc", valid_until="2025-03-13T10:00:00Z")  # 10 days after ts
    assert xb.run(filings=[filing], logs=[cc_log(xb)], config=cfg) == []
    near = xb.filing("fc", valid_until="2025-03-06T10:00:00Z")  # 3 days after ts
    assert xb.pairs(xb.run(filings=[near], logs=[cc_log(xb)], config=cfg)) == [(EXPG, "t1")]


def test_quota_used_only_by_transfers_the_filing_covered(xb):
    filings = [
        xb.filing("f-a", countries=["US"], max_subjects=100),
        xb.filing("f-b", countries=["DE"]),
    ]
    logs = [
        cc_log(
            xb, "t1", country="DE", subjects=85, sensitive_subjects=5, ts="2025-03-01T00:00:00Z"
        ),  # covered by f-b
        cc_log(
            xb, "t2", country="US", subjects=85, sensitive_subjects=5, ts="2025-03-02T00:00:00Z"
        ),  # f-a: 90 <= 100
    ]
    assert xb.run(filings=filings, logs=logs) == []
