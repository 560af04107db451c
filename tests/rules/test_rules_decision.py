"""The decision procedure (spec/contracts.md, "The decision procedure"), steps 1-3 and 5-7,
yearly totals, event-time order, duplicates and the missing-enterprise default.

Step 4 (negative lists) is in test_rules_negative_list.py, filings in test_rules_filings.py.
"""

from __future__ import annotations

import pytest

PM = "XB-PATH-MISSING"
PI = "XB-PATH-INSUFFICIENT"
TH = "XB-THRESHOLD-CROSSED"
SA = "security_assessment"
CC = "contract_or_certification"


# --------------------------------------------------------------------------- step 7 / baseline
def test_small_volume_is_exempt_no_findings(xb):
    assert xb.run(logs=[xb.log(subjects=10)]) == []


def test_zero_subjects_pi_transfer_is_exempt(xb):
    assert xb.run(logs=[xb.log(subjects=0, sensitive_subjects=0)]) == []


# --------------------------------------------------------------------------- step 1
@pytest.mark.parametrize(
    "categories",
    [["business.sales"], ["transit.crm"], ["business.sales", "transit.crm.eu"]],
)
def test_step1_non_personal_is_exempt_even_at_huge_volume(xb, categories):
    log = xb.log(categories=categories, subjects=2_000_000, sensitive_subjects=50_000)
    assert xb.run(logs=[log]) == []


def test_step1_business_mixed_with_pi_is_not_exempt_non_personal(xb):
    log = xb.log(categories=["business.sales", "pi.general"], subjects=100_000)
    findings = xb.run(logs=[log])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]
    assert xb.only(findings, PM).required_path == CC


def test_step1_exempt_non_personal_not_counted_towards_S(xb):
    logs = [
        xb.log("t1", categories=["business.sales"], subjects=99_999, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", categories=["pi.general"], subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    assert xb.run(logs=logs) == []


def test_step1_exempt_non_personal_not_counted_towards_Z(xb):
    logs = [
        xb.log(
            "t1", categories=["transit.crm"], sensitive_subjects=10_000, ts="2025-03-01T00:00:00Z"
        ),
        xb.log(
            "t2",
            categories=["pi.sensitive.health"],
            sensitive_subjects=1,
            ts="2025-03-02T00:00:00Z",
        ),
    ]
    findings = xb.run(logs=logs)
    # t2 alone: sensitive_subjects >= 1 -> contract_or_certification (Z = 1 < 10,000)
    assert xb.pairs(findings) == [(PM, "t2")]
    assert xb.only(findings, PM).required_path == CC


# --------------------------------------------------------------------------- step 2
@pytest.mark.parametrize("purpose", ["contract_performance", "hr_management", "emergency"])
def test_step2_exempt_purposes(xb, purpose):
    log = xb.log(
        purpose=purpose,
        categories=["pi.general", "pi.sensitive.health"],
        subjects=2_000_000,
        sensitive_subjects=20_000,
    )
    assert xb.run(logs=[log]) == []


@pytest.mark.parametrize("purpose", ["business", "research", "marketing", "other"])
def test_step2_other_purposes_are_not_exempt(xb, purpose):
    findings = xb.run(logs=[xb.log(purpose=purpose, subjects=100_000)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]


def test_step2_exempt_purpose_with_important_data_needs_assessment(xb):
    log = xb.log(
        purpose="hr_management", categories=["pi.general", "important.geo"], legal_basis=SA
    )
    findings = xb.run(logs=[log])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert xb.only(findings, PM).required_path == SA


def test_step2_exempt_purpose_not_counted(xb):
    logs = [
        xb.log(
            "t1",
            purpose="hr_management",
            subjects=99_999,
            sensitive_subjects=9_999,
            categories=["pi.general", "pi.sensitive.health"],
            ts="2025-03-01T00:00:00Z",
        ),
        xb.log("t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    # if t1 were counted, S would reach 100,000 at t2
    assert xb.run(logs=logs) == []


def test_step2_exempt_purpose_not_counted_no_threshold_finding(xb):
    log = xb.log(purpose="emergency", subjects=1_000_000, sensitive_subjects=10_000)
    assert xb.run(logs=[log]) == []


# --------------------------------------------------------------------------- step 3
def test_step3_important_data_requires_assessment_even_with_zero_subjects(xb):
    log = xb.log(categories=["important.geo.maps"], subjects=0, legal_basis=SA)
    findings = xb.run(logs=[log])
    assert xb.pairs(findings) == [(PM, "t1")]
    f = xb.only(findings, PM)
    assert f.required_path == SA
    assert f.severity == "high"
    assert f.enterprise_id == xb.A
    assert f.ts == xb.ts("2025-03-03T10:00:00Z")


def test_step3_ciio_carrying_pi_requires_assessment(xb):
    findings = xb.run(
        enterprises=[xb.enterprise(is_ciio=True)], logs=[xb.log(subjects=1, legal_basis=SA)]
    )
    assert xb.pairs(findings) == [(PM, "t1")]
    assert xb.only(findings, PM).required_path == SA


def test_step3_ciio_sector_item_counts_as_pi(xb):
    findings = xb.run(
        enterprises=[xb.enterprise(is_ciio=True, sector="automobile")],
        logs=[xb.log(categories=["auto.trajectory"], subjects=1, legal_basis=SA)],
    )
    assert xb.pairs(findings) == [(PM, "t1")]
    assert xb.only(findings, PM).required_path == SA


def test_step3_ciio_non_personal_is_exempt(xb):
    findings = xb.run(
        enterprises=[xb.enterprise(is_ciio=True)],
        logs=[xb.log(categories=["business.sales"], subjects=0)],
    )
    assert findings == []


def test_step3_ciio_exempt_purpose_is_exempt(xb):
    findings = xb.run(
        enterprises=[xb.enterprise(is_ciio=True)],
        logs=[xb.log(purpose="contract_performance", subjects=500)],
    )
    assert findings == []


def test_step3_ciio_with_only_standard_contract_is_insufficient(xb):
    findings = xb.run(
        enterprises=[xb.enterprise(is_ciio=True)],
        filings=[xb.filing("fc", "standard_contract")],
        logs=[xb.log(subjects=1)],
    )
    assert xb.pairs(findings) == [(PI, "t1")]
    assert xb.only(findings, PI).required_path == SA


def test_non_ciio_sector_item_small_volume_is_exempt(xb):
    log = xb.log(categories=["auto.trajectory"], subjects=50)
    assert xb.run(enterprises=[xb.enterprise(sector="automobile")], logs=[log]) == []


def test_pi_prefix_is_whole_segment_pipeline_is_a_sector_item(xb):
    # 'pipeline.x' is not pi.*, but a sector item: it counts as (non-sensitive) PI
    findings = xb.run(logs=[xb.log(categories=["pipeline.telemetry"], subjects=100_000)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]
    assert xb.only(findings, PM).required_path == CC


# --------------------------------------------------------------------------- steps 5-6: S
def test_S_99999_single_transfer_is_exempt(xb):
    assert xb.run(logs=[xb.log(subjects=99_999)]) == []


def test_S_100000_single_transfer_needs_contract(xb):
    findings = xb.run(logs=[xb.log(subjects=100_000)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]
    assert xb.only(findings, PM).required_path == CC
    assert xb.only(findings, TH).severity == "low"


def test_S_cumulative_99999_then_1(xb):
    logs = [
        xb.log("t1", subjects=99_999, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2")]
    assert xb.only(findings, PM).required_path == CC
    assert xb.only(findings, TH).ts == xb.ts("2025-03-02T00:00:00Z")


def test_S_stays_above_threshold_for_later_transfers_threshold_once(xb):
    logs = [
        xb.log("t1", subjects=100_000, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", subjects=10, ts="2025-03-02T00:00:00Z"),
        xb.log("t3", subjects=10, ts="2025-03-03T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t1"), (PM, "t2"), (PM, "t3"), (TH, "t1")]
    assert {f.required_path for f in findings if f.rule_id == PM} == {CC}


def test_S_999999_contract_then_1000000_assessment(xb):
    logs = [
        xb.log("t1", subjects=999_999, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(filings=[xb.filing("fc", "standard_contract")], logs=logs)
    # t1: S = 999,999 -> contract (covered) and reaches 100,000; t2: S = 1,000,000 -> assessment
    assert xb.pairs(findings) == [(PI, "t2"), (TH, "t1"), (TH, "t2")]
    assert xb.only(findings, PI).required_path == SA


def test_S_1000000_single_transfer_two_thresholds_two_ids(xb):
    findings = xb.run(logs=[xb.log(subjects=1_000_000, legal_basis=SA)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1"), (TH, "t1")]
    assert xb.only(findings, PM).required_path == SA
    ths = [f for f in findings if f.rule_id == TH]
    assert ths[0].finding_id != ths[1].finding_id


def test_one_transfer_crossing_both_S_thresholds_after_earlier_ones(xb):
    logs = [
        xb.log("t1", subjects=99_999, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", subjects=900_001, ts="2025-03-02T00:00:00Z", legal_basis=SA),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2"), (TH, "t2")]
    assert len({f.finding_id for f in findings}) == 3


# --------------------------------------------------------------------------- steps 5-6: Z
def _sens(xb, tid, n, ts, **kw):
    return xb.log(
        tid,
        categories=["pi.general", "pi.sensitive.health"],
        subjects=0,
        sensitive_subjects=n,
        ts=ts,
        **kw,
    )


def test_any_sensitive_subject_needs_contract(xb):
    findings = xb.run(logs=[_sens(xb, "t1", 1, "2025-03-01T00:00:00Z")])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert xb.only(findings, PM).required_path == CC


def test_sensitive_subjects_without_sensitive_category_still_needs_contract(xb):
    findings = xb.run(logs=[xb.log(categories=["pi.general"], sensitive_subjects=3)])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert xb.only(findings, PM).required_path == CC


def test_sensitive_category_with_zero_sensitive_subjects_small_is_exempt(xb):
    # step 6 looks at this transfer's sensitive_subjects only; step 5 needs Z >= 10,000
    log = xb.log(categories=["pi.sensitive.health"], subjects=5, sensitive_subjects=0)
    assert xb.run(logs=[log]) == []


def test_Z_9999_single_is_contract(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract")],
        logs=[_sens(xb, "t1", 9_999, "2025-03-01T00:00:00Z")],
    )
    assert findings == []


def test_Z_10000_single_is_assessment(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract")],
        logs=[_sens(xb, "t1", 10_000, "2025-03-01T00:00:00Z")],
    )
    assert xb.pairs(findings) == [(PI, "t1"), (TH, "t1")]
    assert xb.only(findings, PI).required_path == SA


def test_Z_cumulative_9999_then_1(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract")],
        logs=[
            _sens(xb, "t1", 9_999, "2025-03-01T00:00:00Z"),
            _sens(xb, "t2", 1, "2025-03-02T00:00:00Z"),
        ],
    )
    assert xb.pairs(findings) == [(PI, "t2"), (TH, "t2")]
    assert xb.only(findings, PI).required_path == SA


def test_Z_reached_then_sensitive_category_needs_assessment_plain_pi_does_not(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract")],
        logs=[
            _sens(xb, "t1", 10_000, "2025-03-01T00:00:00Z"),
            # carries sensitive PI (category) and Z >= 10,000 -> assessment
            xb.log(
                "t2",
                categories=["pi.sensitive.biometric"],
                subjects=5,
                sensitive_subjects=0,
                ts="2025-03-02T00:00:00Z",
            ),
            # carries no sensitive PI; S small -> exempt_small_volume
            xb.log("t3", categories=["pi.general"], subjects=5, ts="2025-03-03T00:00:00Z"),
        ],
    )
    assert xb.pairs(findings) == [(PI, "t1"), (PI, "t2"), (TH, "t1")]


def test_S_and_Z_thresholds_crossed_by_one_transfer(xb):
    log = xb.log(
        categories=["pi.general", "pi.sensitive.health"],
        subjects=100_000,
        sensitive_subjects=10_000,
        legal_basis=SA,
    )
    findings = xb.run(logs=[log])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1"), (TH, "t1")]
    assert xb.only(findings, PM).required_path == SA
    assert len({f.finding_id for f in findings}) == 3


def test_threshold_crossed_whether_or_not_covered(xb):
    findings = xb.run(
        filings=[xb.filing("fc", "standard_contract")],
        logs=[xb.log(subjects=100_000)],
    )
    assert xb.pairs(findings) == [(TH, "t1")]
    assert xb.only(findings, TH).ts == xb.ts("2025-03-03T10:00:00Z")


def test_threshold_crossed_again_in_a_new_year_with_a_new_id(xb):
    logs = [
        xb.log("t1", subjects=100_000, ts="2024-06-01T00:00:00Z"),
        xb.log("t2", subjects=100_000, ts="2025-06-01T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t1"), (PM, "t2"), (TH, "t1"), (TH, "t2")]
    ths = [f for f in findings if f.rule_id == TH]
    assert ths[0].finding_id != ths[1].finding_id


# --------------------------------------------------------------------------- calendar year
def test_year_boundary_beijing_time_2330_and_0030_are_different_years(xb):
    logs = [
        # 2024-12-31T15:30Z
        xb.log("t1", subjects=60_000, ts="2024-12-31T23:30:00+08:00"),
        # 2024-12-31T16:30Z: same UTC day, but 2025 in Asia/Shanghai
        xb.log("t2", subjects=60_000, ts="2025-01-01T00:30:00+08:00"),
    ]
    assert xb.run(logs=logs) == []


def test_year_boundary_same_utc_year_different_shanghai_year(xb):
    logs = [
        xb.log("t1", subjects=60_000, ts="2024-12-31T10:00:00+08:00"),
        xb.log("t2", subjects=60_000, ts="2025-01-01T00:30:00+08:00"),
    ]
    assert xb.run(logs=logs) == []


def test_year_boundary_same_shanghai_year_different_utc_year(xb):
    logs = [
        xb.log("t1", subjects=60_000, ts="2025-01-01T00:30:00+08:00"),  # 2024-12-31T16:30Z
        xb.log("t2", subjects=60_000, ts="2025-01-01T12:00:00+08:00"),  # 2025-01-01T04:00Z
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2")]


def test_year_boundary_both_in_2024_shanghai(xb):
    logs = [
        xb.log("t1", subjects=60_000, ts="2024-12-31T08:00:00+08:00"),
        xb.log("t2", subjects=60_000, ts="2024-12-31T23:30:00+08:00"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2")]
    assert xb.only(findings, PM).ts == xb.ts("2024-12-31T15:30:00Z")


def test_totals_are_per_enterprise(xb):
    logs = [
        xb.log("t1", subjects=60_000, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", enterprise_id=xb.B, subjects=60_000, ts="2025-03-02T00:00:00Z"),
    ]
    enterprises = [xb.enterprise(), xb.enterprise(xb.B, name="Beta")]
    assert xb.run(enterprises=enterprises, logs=logs) == []


# --------------------------------------------------------------------------- event-time order
def test_input_order_does_not_matter_event_time_order_is_used(xb):
    logs = [
        xb.log("t2", subjects=1, ts="2025-03-02T00:00:00Z"),
        xb.log("t1", subjects=99_999, ts="2025-03-01T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2")]


def test_ties_in_ts_are_broken_by_transfer_id(xb):
    logs = [
        xb.log("tb", subjects=1, ts="2025-03-01T00:00:00Z"),
        xb.log("ta", subjects=99_999, ts="2025-03-01T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "tb"), (TH, "tb")]


def test_ties_in_ts_are_broken_by_transfer_id_reverse(xb):
    logs = [
        xb.log("tb", subjects=99_999, ts="2025-03-01T00:00:00Z"),
        xb.log("ta", subjects=1, ts="2025-03-01T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "tb"), (TH, "tb")]


# --------------------------------------------------------------------------- duplicates
def test_duplicate_transfer_id_counted_once(xb):
    logs = [
        xb.log("t1", subjects=60_000, ts="2025-03-01T00:00:00Z"),
        xb.log("t1", subjects=60_000, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", subjects=30_000, ts="2025-03-02T00:00:00Z"),
    ]
    assert xb.run(logs=logs) == []


def test_duplicate_transfer_id_only_first_in_ts_order_is_used(xb):
    logs = [
        # listed first, but later in event time: ignored
        xb.log("t1", subjects=200_000, sensitive_subjects=20_000, ts="2025-03-01T11:00:00Z"),
        xb.log("t1", subjects=10, ts="2025-03-01T10:00:00Z"),
    ]
    assert xb.run(logs=logs) == []


def test_duplicate_transfer_id_first_is_the_one_evaluated(xb):
    logs = [
        xb.log("t1", subjects=10, ts="2025-03-01T11:00:00Z"),
        xb.log("t1", subjects=100_000, ts="2025-03-01T10:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]
    assert {f.ts for f in findings} == {xb.ts("2025-03-01T10:00:00Z")}


def test_duplicate_resend_late_is_not_a_new_transfer(xb):
    logs = [
        xb.log("t1", ts="2025-03-01T10:00:00Z", received_at="2025-03-01T10:05:00Z"),
        xb.log("t1", ts="2025-03-01T10:00:30Z", received_at="2025-03-05T10:00:00Z"),
    ]
    assert xb.run(logs=logs) == []


def test_same_transfer_id_in_two_enterprises_are_two_transfers(xb):
    enterprises = [xb.enterprise(), xb.enterprise(xb.B, name="Beta")]
    logs = [
        xb.log("t1", sensitive_subjects=1),
        xb.log("t1", enterprise_id=xb.B, sensitive_subjects=1),
    ]
    findings = xb.run(enterprises=enterprises, logs=logs)
    assert xb.pairs(findings) == [(PM, "t1"), (PM, "t1")]
    assert {f.enterprise_id for f in findings} == {xb.A, xb.B}
    assert findings[0].finding_id != findings[1].finding_id


# --------------------------------------------------------------------------- missing enterprise
def test_missing_enterprise_is_non_ciio_small_volume_exempt(xb):
    findings = xb.run(enterprises=[xb.enterprise()], logs=[xb.log(enterprise_id=xb.C)])
    assert findings == []


def test_missing_enterprise_with_no_reference_data_at_all(xb):
    findings = xb.run(enterprises=[], logs=[xb.log(enterprise_id=xb.C, subjects=100_000)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]
    assert xb.only(findings, PM).required_path == CC
    assert {f.enterprise_id for f in findings} == {xb.C}


def test_missing_enterprise_has_no_ftz_or_region_for_negative_lists(xb):
    entries = [
        xb.entry(sector="other", ftz="beijing"),
        xb.entry("i2", sector="other", ftz="beijing", region="beijing", list_id="beijing-city"),
    ]
    log = xb.log(enterprise_id=xb.C, categories=["auto.trajectory"], subjects=100_000)
    findings = xb.run(enterprises=[], entries=entries, logs=[log])
    # no list applies: steps 5-7 -> contract, PATH-MISSING (not NEGLIST-HIT)
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]


# --------------------------------------------------------------------------- configuration
def test_thresholds_come_from_configuration(xb):
    from pipeline.config import Thresholds, default_rules_config

    cfg = default_rules_config().model_copy(
        update={
            "thresholds": Thresholds(
                subjects_contract=50, subjects_assessment=500, sensitive_assessment=5
            )
        }
    )
    logs = [
        xb.log("t1", subjects=49, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(logs=logs, config=cfg)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2")]
    assert xb.only(findings, PM).required_path == CC
    # the same input under the defaults is exempt
    assert xb.run(logs=logs) == []


def test_exempt_purposes_come_from_configuration(xb):
    from pipeline.config import default_rules_config

    cfg = default_rules_config().model_copy(update={"exempt_purposes": frozenset({"research"})})
    logs = [
        xb.log("t1", purpose="research", subjects=100_000, ts="2025-03-01T00:00:00Z"),
        xb.log("t2", purpose="hr_management", subjects=100_000, ts="2025-06-01T00:00:00Z"),
    ]
    findings = xb.run(logs=logs, config=cfg)
    assert xb.pairs(findings) == [(PM, "t2"), (TH, "t2")]


def test_assessment_path_transfers_are_counted_towards_S(xb):
    logs = [
        xb.log(
            "t1",
            categories=["pi.general", "important.geo"],
            subjects=99_999,
            legal_basis="security_assessment",
            ts="2025-03-01T00:00:00Z",
        ),
        xb.log("t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(filings=[xb.filing("fsa", "security_assessment")], logs=logs)
    # t1: important -> assessment (covered), counted; t2: S = 100,000 -> contract (covered by
    # the assessment, whose kind differs from the declared standard_contract)
    assert xb.pairs(findings) == [("XB-DECLARED-BASIS-INVALID", "t2"), (TH, "t2")]


def test_ciio_transfers_are_counted_towards_S(xb):
    logs = [
        xb.log(
            "t1", subjects=100_000, legal_basis="security_assessment", ts="2025-03-01T00:00:00Z"
        ),
    ]
    findings = xb.run(
        enterprises=[xb.enterprise(is_ciio=True)],
        filings=[xb.filing("fsa", "security_assessment")],
        logs=logs,
    )
    assert xb.pairs(findings) == [(TH, "t1")]


def test_S_counts_subjects_only_and_Z_sensitive_subjects_only(xb):
    logs = [
        xb.log(
            "t1",
            subjects=60_000,
            sensitive_subjects=9_000,
            categories=["pi.general", "pi.sensitive.health"],
            ts="2025-03-01T00:00:00Z",
        ),
        xb.log("t2", subjects=39_999, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(logs=logs)
    # t1: contract (sensitive); t2: S = 99,999 (sensitive subjects are not in S), exempt
    assert xb.pairs(findings) == [(PM, "t1")]
