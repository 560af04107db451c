"""Step 4 of the decision procedure: free-trade-zone and city-wide negative lists
(spec/contracts.md, "The decision procedure" step 4 and the paragraph after it)."""

from __future__ import annotations

NL = "XB-NEGLIST-HIT"
PM = "XB-PATH-MISSING"
TH = "XB-THRESHOLD-CROSSED"
EXP = "XB-FILING-EXPIRED"
SC = "XB-SCOPE-COUNTRY"
SA = "security_assessment"
CC = "contract_or_certification"
TS = "2025-03-03T10:00:00Z"


def ftz_ent(xb, **kw):
    data = {"sector": "automobile", "region": "beijing", "ftz": "beijing"}
    data.update(kw)
    return xb.enterprise(**data)


def traj(xb, tid="t1", **kw):
    data = {"categories": ["auto.trajectory"], "subjects": 10, "legal_basis": SA}
    data.update(kw)
    return xb.log(tid, **data)


# --------------------------------------------------------------------------- NEGLIST-HIT
def test_listed_item_without_filing_is_neglist_hit(xb):
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[xb.entry()], logs=[traj(xb)])
    assert xb.pairs(findings) == [(NL, "t1")]
    f = findings[0]
    assert f.required_path == SA
    assert f.severity == "high"
    assert f.ts == xb.ts(TS)
    assert f.enterprise_id == xb.A


def test_neglist_hit_replaces_path_insufficient(xb):
    findings = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[xb.entry()],
        filings=[xb.filing("fc", "standard_contract")],
        logs=[traj(xb)],
    )
    assert xb.pairs(findings) == [(NL, "t1")]
    assert findings[0].required_path == SA


def test_neglist_hit_replaces_path_missing_not_yet_valid(xb):
    filing = xb.filing("fsa", SA, valid_from="2026-01-01T00:00:00Z")
    findings = xb.run(
        enterprises=[ftz_ent(xb)], entries=[xb.entry()], filings=[filing], logs=[traj(xb)]
    )
    assert xb.pairs(findings) == [(NL, "t1")]


def test_neglist_item_with_valid_assessment_is_compliant(xb):
    findings = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[xb.entry()],
        filings=[xb.filing("fsa", SA)],
        logs=[traj(xb)],
    )
    assert findings == []


def test_neglist_item_with_expired_assessment_is_expired_not_neglist_hit(xb):
    filing = xb.filing("fsa", SA, valid_until="2025-01-01T00:00:00Z")
    findings = xb.run(
        enterprises=[ftz_ent(xb)], entries=[xb.entry()], filings=[filing], logs=[traj(xb)]
    )
    assert xb.pairs(findings) == [(EXP, "t1")]
    assert findings[0].required_path == SA


def test_neglist_item_with_out_of_scope_assessment_is_scope_finding(xb):
    filing = xb.filing("fsa", SA, countries=["DE"])
    findings = xb.run(
        enterprises=[ftz_ent(xb)], entries=[xb.entry()], filings=[filing], logs=[traj(xb)]
    )
    assert xb.pairs(findings) == [(SC, "t1")]


def test_neglist_contract_item_satisfied_by_contract(xb):
    entry = xb.entry(required_path=CC)
    findings = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[entry],
        filings=[xb.filing("fc", "standard_contract")],
        logs=[traj(xb, legal_basis="standard_contract")],
    )
    assert findings == []


def test_neglist_contract_item_without_filing(xb):
    entry = xb.entry(required_path=CC)
    findings = xb.run(
        enterprises=[ftz_ent(xb)], entries=[entry], logs=[traj(xb, legal_basis="standard_contract")]
    )
    assert xb.pairs(findings) == [(NL, "t1")]
    assert findings[0].required_path == CC


def test_strictest_active_item_wins(xb):
    entries = [
        xb.entry("i1", categories=["auto.trajectory"], required_path=CC),
        xb.entry("i2", categories=["auto.camera"], required_path=SA),
    ]
    filings = [xb.filing("fc", "standard_contract")]
    both = traj(xb, categories=["auto.trajectory", "auto.camera"])
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=entries, filings=filings, logs=[both])
    assert xb.pairs(findings) == [(NL, "t1")]
    assert findings[0].required_path == SA
    only_cc = traj(xb, categories=["auto.trajectory"], legal_basis="standard_contract")
    assert xb.run(enterprises=[ftz_ent(xb)], entries=entries, filings=filings, logs=[only_cc]) == []


# --------------------------------------------------------------------------- exempt_negative_list
def test_unlisted_data_of_ftz_enterprise_is_exempt_whatever_the_volume(xb):
    log = xb.log(
        categories=["pi.general", "pi.sensitive.health"],
        subjects=2_000_000,
        sensitive_subjects=20_000,
    )
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[xb.entry()], logs=[log])
    assert findings == []


def test_exempt_negative_list_is_not_counted_towards_S(xb):
    entry = xb.entry(effective_until="2025-06-30T23:59:59+08:00")
    logs = [
        xb.log("t1", subjects=99_999, ts="2025-05-01T00:00:00Z"),  # exempt_negative_list
        xb.log("t2", subjects=1, ts="2025-08-01T00:00:00Z"),  # no list in force any more
    ]
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=logs) == []


def test_exempt_negative_list_no_declared_basis_finding(xb):
    log = xb.log(subjects=10, legal_basis="exempt", filing_ref="no-such")
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[xb.entry()], logs=[log]) == []


def test_item_category_prefix_matches_whole_segments(xb):
    entry = xb.entry(categories=["auto"])
    hit = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[entry],
        logs=[traj(xb, categories=["auto.trajectory.raw"])],
    )
    assert xb.pairs(hit) == [(NL, "t1")]
    miss = xb.run(
        enterprises=[ftz_ent(xb)], entries=[entry], logs=[traj(xb, categories=["automobile.specs"])]
    )
    assert miss == []


def test_step4_path_is_counted_and_final_even_above_one_million(xb):
    entry = xb.entry(required_path=CC)
    log = traj(xb, subjects=1_000_000, legal_basis="standard_contract")
    findings = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[entry],
        filings=[xb.filing("fc", "standard_contract")],
        logs=[log],
    )
    # step 4 is final (contract, covered), and the transfer is counted: S reaches both
    assert xb.pairs(findings) == [(TH, "t1"), (TH, "t1")]


# --------------------------------------------------------------------------- min_subjects
def test_min_subjects_not_reached_is_exempt(xb):
    entry = xb.entry(min_subjects=1_000, required_path=CC)
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=[traj(xb, subjects=999)])
    assert findings == []


def test_min_subjects_reached_exactly_single_transfer(xb):
    entry = xb.entry(min_subjects=1_000, required_path=CC)
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=[traj(xb, subjects=1_000)])
    assert xb.pairs(findings) == [(NL, "t1")]
    assert findings[0].required_path == CC


def test_min_subjects_cumulative_inclusive_counts_exempt_and_sensitive(xb):
    entry = xb.entry(min_subjects=1_000, required_path=CC)
    logs = [
        # exempt_negative_list (count 999 < 1000), but counted for the item "whatever its path"
        traj(xb, "t1", subjects=500, sensitive_subjects=499, ts="2025-03-01T00:00:00Z"),
        traj(xb, "t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=logs)
    assert xb.pairs(findings) == [(NL, "t2")]


def test_min_subjects_count_excludes_exempt_purpose_transfers(xb):
    entry = xb.entry(min_subjects=1_000, required_path=CC)
    logs = [
        traj(xb, "t1", subjects=999, purpose="hr_management", ts="2025-03-01T00:00:00Z"),
        traj(xb, "t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=logs) == []


def test_min_subjects_count_only_transfers_matching_the_item(xb):
    entry = xb.entry(min_subjects=1_000, required_path=CC)
    logs = [
        xb.log("t1", categories=["pi.general"], subjects=999, ts="2025-03-01T00:00:00Z"),
        traj(xb, "t2", subjects=1, ts="2025-03-02T00:00:00Z"),
    ]
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=logs) == []


def test_min_subjects_count_is_per_calendar_year(xb):
    entry = xb.entry(min_subjects=1_000, required_path=CC)
    logs = [
        traj(xb, "t1", subjects=999, ts="2024-12-31T23:30:00+08:00"),
        traj(xb, "t2", subjects=1, ts="2025-01-01T00:30:00+08:00"),
    ]
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=logs) == []


# --------------------------------------------------------------------------- editions in force
def test_edition_expired_before_ts_does_not_apply(xb):
    entry = xb.entry(effective_until="2025-03-03T09:59:59Z")
    small = xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=[traj(xb)])
    assert small == []
    big = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[entry],
        logs=[traj(xb, subjects=100_000, legal_basis="standard_contract")],
    )
    assert xb.pairs(big) == [(PM, "t1"), (TH, "t1")]


def test_edition_not_yet_in_force_does_not_apply(xb):
    entry = xb.entry(effective_from="2025-03-03T10:00:01Z")
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=[traj(xb)]) == []


def test_edition_bounds_are_inclusive(xb):
    from_ = xb.entry(effective_from=TS)
    assert xb.pairs(xb.run(enterprises=[ftz_ent(xb)], entries=[from_], logs=[traj(xb)])) == [
        (NL, "t1")
    ]
    until = xb.entry(effective_until=TS)
    assert xb.pairs(xb.run(enterprises=[ftz_ent(xb)], entries=[until], logs=[traj(xb)])) == [
        (NL, "t1")
    ]


def test_the_edition_in_force_at_ts_applies(xb):
    entries = [
        xb.entry(
            "old-1",
            list_id="beijing-ftz-2023",
            categories=["auto.trajectory"],
            effective_from="2023-01-01T00:00:00+08:00",
            effective_until="2024-06-30T23:59:59+08:00",
        ),
        xb.entry(
            "new-1",
            list_id="beijing-ftz-2024",
            categories=["auto.camera"],
            effective_from="2024-07-01T00:00:00+08:00",
        ),
    ]
    logs = [
        traj(xb, "t-old", ts="2024-03-01T00:00:00Z"),
        traj(xb, "t-new", ts="2024-08-01T00:00:00Z"),  # new edition: trajectory not listed
    ]
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=entries, logs=logs)
    assert xb.pairs(findings) == [(NL, "t-old")]


# --------------------------------------------------------------------------- which lists apply
def test_city_wide_edition_applies_to_non_ftz_enterprise_of_the_region(xb):
    entry = xb.entry(list_id="beijing-city-2024", region="beijing")
    ent = ftz_ent(xb, ftz=None, region="beijing")
    findings = xb.run(enterprises=[ent], entries=[entry], logs=[traj(xb)])
    assert xb.pairs(findings) == [(NL, "t1")]
    # and it makes unlisted data exempt for that enterprise
    big = xb.log("t2", subjects=200_000)
    assert xb.run(enterprises=[ent], entries=[entry], logs=[big]) == []


def test_city_wide_edition_does_not_apply_to_another_region(xb):
    entry = xb.entry(list_id="beijing-city-2024", region="beijing")
    ent = ftz_ent(xb, ftz=None, region="shanghai")
    assert xb.run(enterprises=[ent], entries=[entry], logs=[traj(xb)]) == []


def test_city_wide_edition_needs_region_match_not_ftz_match(xb):
    entry = xb.entry(list_id="beijing-city-2024", ftz="beijing", region="beijing")
    ent = ftz_ent(xb, ftz="beijing", region="tianjin")
    assert xb.run(enterprises=[ent], entries=[entry], logs=[traj(xb)]) == []
    big = xb.run(enterprises=[ent], entries=[entry], logs=[xb.log(subjects=100_000)])
    assert xb.pairs(big) == [(PM, "t1"), (TH, "t1")]


def test_ftz_edition_does_not_apply_outside_the_zone(xb):
    ent = ftz_ent(xb, ftz="tianjin")
    findings = xb.run(enterprises=[ent], entries=[xb.entry()], logs=[xb.log(subjects=100_000)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]


def test_ftz_edition_does_not_apply_to_non_ftz_enterprise(xb):
    ent = ftz_ent(xb, ftz=None)
    assert xb.run(enterprises=[ent], entries=[xb.entry()], logs=[traj(xb)]) == []


def test_edition_of_another_sector_does_not_apply(xb):
    ent = ftz_ent(xb, sector="pharmaceutical")
    findings = xb.run(enterprises=[ent], entries=[xb.entry()], logs=[xb.log(subjects=100_000)])
    assert xb.pairs(findings) == [(PM, "t1"), (TH, "t1")]


# --------------------------------------------------------------------------- precedence
def test_ciio_skips_the_negative_list_unlisted_data(xb):
    ent = ftz_ent(xb, is_ciio=True)
    findings = xb.run(
        enterprises=[ent], entries=[xb.entry()], logs=[xb.log(subjects=10, legal_basis=SA)]
    )
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == SA


def test_ciio_skips_the_negative_list_listed_data(xb):
    ent = ftz_ent(xb, is_ciio=True)
    findings = xb.run(enterprises=[ent], entries=[xb.entry()], logs=[traj(xb)])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == SA


def test_important_data_of_ftz_enterprise_is_step3_path_missing(xb):
    log = xb.log(categories=["important.geo"], subjects=0, legal_basis=SA)
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[xb.entry()], logs=[log])
    assert xb.pairs(findings) == [(PM, "t1")]
    assert findings[0].required_path == SA


def test_exempt_purpose_comes_before_the_negative_list(xb):
    findings = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=[xb.entry()],
        logs=[traj(xb, purpose="contract_performance")],
    )
    assert findings == []


def test_non_personal_comes_before_the_negative_list(xb):
    entry = xb.entry(categories=["business.fleet"])
    log = xb.log(categories=["business.fleet.stats"])
    assert xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=[log]) == []


def test_min_subjects_count_includes_transfers_before_the_edition(xb):
    # "whatever their path": t1 (no list in force yet, exempt_small_volume) still counts
    entry = xb.entry(min_subjects=1_000, required_path=CC, effective_from="2025-03-02T00:00:00Z")
    logs = [
        traj(xb, "t1", subjects=999, legal_basis="standard_contract", ts="2025-03-01T00:00:00Z"),
        traj(xb, "t2", subjects=1, legal_basis="standard_contract", ts="2025-03-03T00:00:00Z"),
    ]
    findings = xb.run(enterprises=[ftz_ent(xb)], entries=[entry], logs=logs)
    assert xb.pairs(findings) == [(NL, "t2")]
    assert findings[0].required_path == CC


def test_min_subjects_per_item(xb):
    entries = [
        xb.entry("i1", categories=["auto.trajectory"], min_subjects=1_000, required_path=SA),
        xb.entry("i2", categories=["auto.camera"], min_subjects=None, required_path=CC),
    ]
    log = traj(
        xb,
        categories=["auto.trajectory", "auto.camera"],
        subjects=10,
        legal_basis="standard_contract",
    )
    # i1 not reached (10 < 1,000), i2 active: contract is enough
    findings = xb.run(
        enterprises=[ftz_ent(xb)],
        entries=entries,
        filings=[xb.filing("fc", "standard_contract")],
        logs=[log],
    )
    assert findings == []


def test_neglist_hit_and_declared_exempt(xb):
    findings = xb.run(
        enterprises=[ftz_ent(xb)], entries=[xb.entry()], logs=[traj(xb, legal_basis="exempt")]
    )
    assert xb.pairs(findings) == [("XB-DECLARED-BASIS-INVALID", "t1"), (NL, "t1")]
