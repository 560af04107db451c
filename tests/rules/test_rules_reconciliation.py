"""Reconciliation of declared and observed egress: XB-UNDECLARED-EGRESS and XB-DLP-MISMATCH
(spec/contracts.md, "Reconciliation of declared and observed egress")."""

from __future__ import annotations

UE = "XB-UNDECLARED-EGRESS"
DLP = "XB-DLP-MISMATCH"
SA = "security_assessment"
MIB10 = 10_485_760
# 1.2 x 5,000,000 + 10 MiB: the largest observed volume that is still tolerated
LIMIT = 6_000_000 + MIB10


def ent_a(xb, **kw):
    data = {"egress_cidrs": ["10.1.0.0/16"]}
    data.update(kw)
    return xb.enterprise(**data)


def ent_b(xb, **kw):
    data = {"name": "Beta", "egress_cidrs": ["10.1.2.0/24"]}
    data.update(kw)
    return xb.enterprise(xb.B, **data)


def rlog(xb, tid, ts, nbytes, **kw):
    """A declared transfer that is exempt (purpose), so that only reconciliation can fire."""
    data = {"ts": ts, "bytes": nbytes, "purpose": "contract_performance"}
    data.update(kw)
    return xb.log(tid, **data)


# --------------------------------------------------------------------------- tolerance
def test_observed_at_tolerance_limit_is_not_a_finding(xb):
    logs = [
        rlog(xb, "t1", "2025-03-03T10:05:00Z", 2_500_000),
        rlog(xb, "t2", "2025-03-03T10:40:00Z", 2_500_000),
    ]
    flows = [xb.flow("fl1", ts_start="2025-03-03T10:20:00Z", bytes_out=LIMIT)]
    assert xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows) == []


def test_observed_one_byte_over_tolerance_is_undeclared_egress(xb):
    logs = [
        rlog(xb, "t1", "2025-03-03T10:05:00Z", 2_500_000),
        rlog(xb, "t2", "2025-03-03T10:40:00Z", 2_500_000),
    ]
    flows = [
        xb.flow("fl1", ts_start="2025-03-03T10:20:00Z", bytes_out=3_000_000),
        xb.flow("fl2", ts_start="2025-03-03T10:30:00Z", bytes_out=LIMIT - 3_000_000 + 1),
    ]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    f = findings[0]
    assert f.ts == xb.ts("2025-03-03T10:00:00Z")
    assert f.severity == "high"
    assert f.enterprise_id == xb.A


def test_nothing_declared_10_mib_is_tolerated(xb):
    flows = [xb.flow(bytes_out=MIB10)]
    assert xb.run(enterprises=[ent_a(xb)], flows=flows) == []


def test_nothing_declared_10_mib_plus_one_is_undeclared(xb):
    flows = [xb.flow(bytes_out=MIB10 + 1, ts_start="2025-03-03T10:20:00Z")]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].ts == xb.ts("2025-03-03T10:00:00Z")


def test_declared_without_observed_is_not_a_finding(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 500_000_000)]
    assert xb.run(enterprises=[ent_a(xb)], logs=logs) == []


def test_tolerance_comes_from_configuration(xb):
    from pipeline.config import Reconciliation, default_rules_config

    cfg = default_rules_config().model_copy(
        update={"reconciliation": Reconciliation(tolerance_ratio=1.0, tolerance_bytes=0)}
    )
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 1_000)]
    ok = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=[xb.flow(bytes_out=1_000)], config=cfg)
    assert ok == []
    over = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=[xb.flow(bytes_out=1_001)], config=cfg)
    assert xb.pairs(over) == [(UE, None)]


# --------------------------------------------------------------------------- windows
def test_windows_are_aligned_to_the_utc_hour(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:10:00Z", 5_000_000)]
    flows = [
        xb.flow("fl1", ts_start="2025-03-03T10:50:00Z", bytes_out=LIMIT),
        # next window: nothing declared there
        xb.flow("fl2", ts_start="2025-03-03T11:00:00Z", bytes_out=MIB10 + 1),
    ]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].ts == xb.ts("2025-03-03T11:00:00Z")


def test_log_just_before_the_hour_belongs_to_the_previous_window(xb):
    logs = [rlog(xb, "t1", "2025-03-03T09:59:59Z", 5_000_000)]
    flows = [xb.flow("fl1", ts_start="2025-03-03T10:00:00Z", bytes_out=LIMIT)]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].ts == xb.ts("2025-03-03T10:00:00Z")


def test_flow_window_is_by_ts_start(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:10:00Z", 5_000_000)]
    flows = [
        xb.flow(
            "fl1", ts_start="2025-03-03T10:59:50Z", ts_end="2025-03-03T11:10:00Z", bytes_out=LIMIT
        )
    ]
    assert xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows) == []


def test_half_hour_offset_timestamps_are_windowed_in_utc(xb):
    # 16:10+05:30 = 10:40Z; 15:20+05:30 = 09:50Z
    logs = [rlog(xb, "t1", "2025-03-03T16:10:00+05:30", 5_000_000)]
    flows = [
        xb.flow("fl1", ts_start="2025-03-03T16:20:00+05:30", bytes_out=LIMIT),  # 10:50Z
        xb.flow("fl2", ts_start="2025-03-03T15:20:00+05:30", bytes_out=MIB10 + 1),  # 09:50Z
    ]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].ts == xb.ts("2025-03-03T09:00:00Z")


def test_one_finding_per_window(xb):
    flows = [
        xb.flow("fl1", ts_start="2025-03-03T10:05:00Z", bytes_out=MIB10 + 1),
        xb.flow("fl2", ts_start="2025-03-03T10:45:00Z", bytes_out=MIB10 + 1),
        xb.flow("fl3", ts_start="2025-03-03T12:45:00Z", bytes_out=MIB10 + 1),
    ]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(UE, None), (UE, None)]
    assert [f.ts for f in findings] == [
        xb.ts("2025-03-03T10:00:00Z"),
        xb.ts("2025-03-03T12:00:00Z"),
    ]
    assert findings[0].finding_id != findings[1].finding_id


# --------------------------------------------------------------------------- country
def test_reconciliation_is_per_destination_country(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 5_000_000, country="DE")]
    flows = [xb.flow(dst_country="US", bytes_out=LIMIT)]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    # US: declared 0, observed > 10 MiB (pooled with DE it would be tolerated)
    assert xb.pairs(findings) == [(UE, None)]


def test_two_countries_two_findings(xb):
    flows = [
        xb.flow("fl1", dst_country="US", bytes_out=MIB10 + 1),
        xb.flow("fl2", dst_country="DE", bytes_out=MIB10 + 1),
    ]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(UE, None), (UE, None)]
    assert findings[0].finding_id != findings[1].finding_id


def test_domestic_flows_are_ignored(xb):
    flows = [
        xb.flow(
            dst_country="CN",
            bytes_out=500_000_000,
            dlp_categories=["pi.sensitive.health", "important.geo"],
        )
    ]
    assert xb.run(enterprises=[ent_a(xb)], flows=flows) == []


# --------------------------------------------------------------------------- attribution
def test_flows_attributed_by_longest_egress_prefix(xb):
    enterprises = [ent_a(xb), ent_b(xb)]
    logs = [rlog(xb, "tb", "2025-03-03T10:05:00Z", 5_000_000, enterprise_id=xb.B)]
    flows = [
        xb.flow("fl1", src_ip="10.1.2.7", bytes_out=LIMIT),  # B (/24 beats /16)
        xb.flow("fl2", src_ip="10.1.9.9", bytes_out=MIB10 + 1),  # A
    ]
    findings = xb.run(enterprises=enterprises, logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].enterprise_id == xb.A


def test_longest_prefix_independent_of_reference_order(xb):
    enterprises = [ent_b(xb), ent_a(xb)]
    flows = [xb.flow("fl1", src_ip="10.1.2.7", bytes_out=MIB10 + 1)]
    findings = xb.run(enterprises=enterprises, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].enterprise_id == xb.B


def test_flow_enterprise_id_wins_over_egress_prefix(xb):
    flows = [xb.flow(src_ip="10.1.0.5", enterprise_id=xb.B, bytes_out=MIB10 + 1)]
    findings = xb.run(enterprises=[ent_a(xb), ent_b(xb)], flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].enterprise_id == xb.B


def test_flow_enterprise_id_is_used_when_set(xb):
    enterprises = [ent_a(xb), ent_b(xb)]
    flows = [xb.flow(src_ip="192.0.2.1", enterprise_id=xb.B, bytes_out=MIB10 + 1)]
    findings = xb.run(enterprises=enterprises, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].enterprise_id == xb.B


def test_unattributable_flow_is_not_a_finding(xb):
    flows = [xb.flow(src_ip="192.0.2.1", bytes_out=500_000_000)]
    assert xb.run(enterprises=[ent_a(xb)], flows=flows) == []


def test_ipv6_egress_prefix(xb):
    ent = xb.enterprise(egress_cidrs=["2001:db8:10::/48"])
    flows = [xb.flow(src_ip="2001:db8:10::5", dst_ip="2001:db8:ffff::1", bytes_out=MIB10 + 1)]
    findings = xb.run(enterprises=[ent], flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].enterprise_id == xb.A


def test_another_enterprises_declarations_do_not_count(xb):
    enterprises = [ent_a(xb), ent_b(xb)]
    logs = [rlog(xb, "tb", "2025-03-03T10:05:00Z", 5_000_000, enterprise_id=xb.B)]
    flows = [xb.flow(src_ip="10.1.9.9", bytes_out=LIMIT)]
    findings = xb.run(enterprises=enterprises, logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    assert findings[0].enterprise_id == xb.A


# --------------------------------------------------------------------------- DLP-MISMATCH
def test_dlp_declared_parent_category_covers_observed_child(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 1_000, categories=["pi.sensitive"])]
    flows = [xb.flow(dlp_categories=["pi.sensitive.health"])]
    assert xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows) == []


def test_dlp_undeclared_sensitive_category(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 1_000, categories=["pi.general"])]
    flows = [xb.flow(ts_start="2025-03-03T10:20:00Z", dlp_categories=["pi.sensitive.health"])]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]
    f = findings[0]
    assert f.ts == xb.ts("2025-03-03T10:00:00Z")
    assert f.severity == "medium"
    assert f.enterprise_id == xb.A


def test_dlp_finding_lists_the_categories(xb):
    flows = [xb.flow(dlp_categories=["pi.sensitive.health", "important.geo"])]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]
    text = findings[0].explanation + findings[0].explanation_zh
    assert "pi.sensitive.health" in text
    assert "important.geo" in text


def test_dlp_undeclared_important_category_without_any_log(xb):
    flows = [xb.flow(dlp_categories=["important.geo"])]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]


def test_dlp_declared_important_covers(xb):
    logs = [
        rlog(
            xb,
            "t1",
            "2025-03-03T10:05:00Z",
            1_000,
            categories=["important.geo"],
            purpose="business",
            subjects=0,
            legal_basis=SA,
        )
    ]
    flows = [xb.flow(dlp_categories=["important.geo.maps"])]
    findings = xb.run(
        enterprises=[ent_a(xb)], filings=[xb.filing("fsa", SA)], logs=logs, flows=flows
    )
    assert findings == []


def test_dlp_ordinary_categories_are_not_checked(xb):
    flows = [xb.flow(dlp_categories=["pi.general", "business.sales", "auto.trajectory"])]
    assert xb.run(enterprises=[ent_a(xb)], flows=flows) == []


def test_dlp_one_finding_per_enterprise_country_window(xb):
    flows = [
        xb.flow("fl1", ts_start="2025-03-03T10:05:00Z", dlp_categories=["pi.sensitive.health"]),
        xb.flow(
            "fl2",
            ts_start="2025-03-03T10:35:00Z",
            dlp_categories=["pi.sensitive.biometric", "important.geo"],
        ),
    ]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]


def test_dlp_separate_windows_and_countries(xb):
    flows = [
        xb.flow("fl1", ts_start="2025-03-03T10:05:00Z", dlp_categories=["pi.sensitive.health"]),
        xb.flow("fl2", ts_start="2025-03-03T11:05:00Z", dlp_categories=["pi.sensitive.health"]),
        xb.flow(
            "fl3",
            ts_start="2025-03-03T10:15:00Z",
            dst_country="SG",
            dlp_categories=["pi.sensitive.health"],
        ),
    ]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(DLP, None)] * 3
    assert [f.ts for f in findings] == [xb.ts("2025-03-03T10:00:00Z")] * 2 + [
        xb.ts("2025-03-03T11:00:00Z")
    ]
    assert len({f.finding_id for f in findings}) == 3


def test_dlp_declaration_in_another_window_does_not_cover(xb):
    logs = [rlog(xb, "t1", "2025-03-03T09:55:00Z", 1_000, categories=["pi.sensitive.health"])]
    flows = [xb.flow(ts_start="2025-03-03T10:05:00Z", dlp_categories=["pi.sensitive.health"])]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]
    assert findings[0].ts == xb.ts("2025-03-03T10:00:00Z")


def test_dlp_declaration_to_another_country_does_not_cover(xb):
    logs = [
        rlog(
            xb,
            "t1",
            "2025-03-03T10:05:00Z",
            1_000,
            country="DE",
            categories=["pi.sensitive.health"],
        )
    ]
    flows = [xb.flow(dst_country="US", dlp_categories=["pi.sensitive.health"])]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]


def test_dlp_and_undeclared_in_the_same_window_are_two_findings(xb):
    flows = [xb.flow(bytes_out=MIB10 + 1, dlp_categories=["important.geo"])]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert [f.rule_id for f in findings] == [DLP, UE]  # sorted by ts then rule_id
    assert findings[0].finding_id != findings[1].finding_id
    assert findings[0].ts == findings[1].ts == xb.ts("2025-03-03T10:00:00Z")


# --------------------------------------------------------------------------- duplicates, GeoIP
def test_resent_log_is_declared_once(xb):
    logs = [
        rlog(xb, "t1", "2025-03-03T10:05:00Z", 5_000_000),
        rlog(xb, "t1", "2025-03-03T10:05:00Z", 5_000_000),  # re-sent: not a new transfer
    ]
    flows = [xb.flow(bytes_out=LIMIT + 1)]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(UE, None)]


def test_null_dst_country_resolved_by_offline_geoip(xb):
    # 8.8.8.8 is a US address in the offline GeoIP data (iptocc)
    flows = [xb.flow(dst_ip="8.8.8.8", dst_country=None, bytes_out=MIB10 + 1)]
    findings = xb.run(enterprises=[ent_a(xb)], flows=flows)
    assert xb.pairs(findings) == [(UE, None)]
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 5_000_000, country="US")]
    flows = [xb.flow(dst_ip="8.8.8.8", dst_country=None, bytes_out=LIMIT)]
    assert xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows) == []


def test_null_dst_country_resolved_to_cn_is_domestic(xb):
    # 114.114.114.114 is a CN address in the offline GeoIP data (iptocc)
    flows = [
        xb.flow(
            dst_ip="114.114.114.114",
            dst_country=None,
            bytes_out=500_000_000,
            dlp_categories=["important.geo"],
        )
    ]
    assert xb.run(enterprises=[ent_a(xb)], flows=flows) == []


def test_dlp_declared_child_does_not_cover_observed_parent(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 1_000, categories=["pi.sensitive.health"])]
    flows = [xb.flow(dlp_categories=["pi.sensitive"])]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]


def test_dlp_declared_sibling_does_not_cover(xb):
    logs = [rlog(xb, "t1", "2025-03-03T10:05:00Z", 1_000, categories=["pi.sensitive.financial"])]
    flows = [xb.flow(dlp_categories=["pi.sensitive.health"])]
    findings = xb.run(enterprises=[ent_a(xb)], logs=logs, flows=flows)
    assert xb.pairs(findings) == [(DLP, None)]


def test_reconciliation_per_enterprise_in_the_same_window(xb):
    enterprises = [ent_a(xb, egress_cidrs=["10.1.0.0/24"]), ent_b(xb)]
    flows = [
        xb.flow("fl1", src_ip="10.1.0.7", bytes_out=MIB10 + 1),
        xb.flow("fl2", src_ip="10.1.2.7", bytes_out=MIB10 + 1),
    ]
    findings = xb.run(enterprises=enterprises, flows=flows)
    assert xb.pairs(findings) == [(UE, None), (UE, None)]
    assert {f.enterprise_id for f in findings} == {xb.A, xb.B}
    assert findings[0].finding_id != findings[1].finding_id
