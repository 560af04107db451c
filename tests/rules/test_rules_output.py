"""Finding output: every catalogue rule fires in one scenario, ids are deterministic and
distinct, output is sorted by ts then rule_id, severities are the catalogue's defaults
(spec/contracts.md, "Rule catalogue" and "Finding (output)")."""

from __future__ import annotations

import re
from collections import Counter

from stdnum.cn import uscc

from pipeline.wire import finding_json
from schemas.models import Finding

SA = "security_assessment"
MIB10 = 10_485_760

ALL_RULES = {
    "XB-PATH-MISSING",
    "XB-PATH-INSUFFICIENT",
    "XB-NEGLIST-HIT",
    "XB-FILING-EXPIRED",
    "XB-FILING-REVOKED",
    "XB-SCOPE-RECIPIENT",
    "XB-SCOPE-COUNTRY",
    "XB-SCOPE-CATEGORY",
    "XB-SCOPE-PURPOSE",
    "XB-VOLUME-EXCEEDED",
    "XB-THRESHOLD-CROSSED",
    "XB-DECLARED-BASIS-INVALID",
    "XB-UNDECLARED-EGRESS",
    "XB-DLP-MISMATCH",
    "XB-LATE-DECLARATION",
    "XB-FILING-EXPIRING",
}


def eid(i: int) -> str:
    first17 = f"9111000060003{i:04d}"
    return first17 + uscc.calc_check_digit(first17)


def sens(xb, tid, enterprise, ts, **kw):
    data = {
        "enterprise_id": enterprise,
        "ts": ts,
        "categories": ["pi.general", "pi.sensitive.health"],
        "subjects": 10,
        "sensitive_subjects": 5,
    }
    data.update(kw)
    return xb.log(tid, **data)


def scenario(xb):
    """One enterprise per problem; together they exercise all 16 rules."""
    e = {i: eid(i) for i in range(1, 10)}
    enterprises = [xb.enterprise(e[i], name=f"E{i}") for i in (1, 2, 4, 5, 6, 7, 8)]
    enterprises.append(xb.enterprise(e[3], name="E3", sector="automobile", ftz="beijing"))
    enterprises.append(xb.enterprise(e[9], name="E9", egress_cidrs=["10.9.0.0/16"]))
    filings = [
        xb.filing("f2", "standard_contract", enterprise_id=e[2]),
        xb.filing(
            "f4", "standard_contract", enterprise_id=e[4], valid_until="2025-01-01T00:00:00Z"
        ),
        xb.filing("f5", "standard_contract", enterprise_id=e[5], revoked_at="2025-02-01T00:00:00Z"),
        xb.filing(
            "f6",
            "standard_contract",
            enterprise_id=e[6],
            recipients=["x"],
            countries=["DE"],
            categories=["pi.general"],
            purposes=["research"],
        ),
        xb.filing("f7", "standard_contract", enterprise_id=e[7], max_subjects=10),
        xb.filing(
            "f8", "standard_contract", enterprise_id=e[8], valid_until="2025-03-20T00:00:00Z"
        ),
    ]
    entries = [xb.entry()]
    logs = [
        # PATH-MISSING, THRESHOLD-CROSSED, DECLARED-BASIS-INVALID, LATE-DECLARATION
        xb.log(
            "t1",
            enterprise_id=e[1],
            ts="2025-03-03T10:00:00Z",
            subjects=100_000,
            legal_basis="exempt",
            received_at="2025-03-05T10:00:00Z",
        ),
        # PATH-INSUFFICIENT
        xb.log(
            "t2",
            enterprise_id=e[2],
            ts="2025-03-03T11:00:00Z",
            categories=["important.geo"],
            subjects=0,
            legal_basis=SA,
        ),
        # NEGLIST-HIT
        xb.log(
            "t3",
            enterprise_id=e[3],
            ts="2025-03-03T12:00:00Z",
            categories=["auto.trajectory"],
            legal_basis=SA,
        ),
        # FILING-EXPIRED
        sens(xb, "t4", e[4], "2025-03-03T13:00:00Z"),
        # FILING-REVOKED
        sens(xb, "t5", e[5], "2025-03-03T14:00:00Z"),
        # four SCOPE-* findings
        sens(xb, "t6", e[6], "2025-03-03T15:00:00Z"),
        # VOLUME-EXCEEDED
        sens(xb, "t7", e[7], "2025-03-03T16:00:00Z"),
        # FILING-EXPIRING
        sens(xb, "t8", e[8], "2025-03-03T17:00:00Z"),
        # declared exempt transfer of E9 (reconciliation only)
        xb.log(
            "t9",
            enterprise_id=e[9],
            ts="2025-03-03T08:10:00Z",
            bytes=1_000,
            purpose="contract_performance",
        ),
    ]
    flows = [
        # UNDECLARED-EGRESS and DLP-MISMATCH in window 08:00Z
        xb.flow(
            "fl1",
            src_ip="10.9.1.1",
            ts_start="2025-03-03T08:20:00Z",
            bytes_out=2 * MIB10,
            dlp_categories=["pi.sensitive.health"],
        ),
    ]
    return e, enterprises, filings, entries, logs, flows


def run_scenario(xb, reverse=False):
    e, enterprises, filings, entries, logs, flows = scenario(xb)
    if reverse:
        enterprises, filings, entries, logs, flows = (
            list(reversed(x)) for x in (enterprises, filings, entries, logs, flows)
        )
    return e, xb.run(
        enterprises=enterprises, filings=filings, entries=entries, logs=logs, flows=flows
    )


def test_every_rule_fires_exactly_where_expected(xb):
    e, findings = run_scenario(xb)
    assert {f.rule_id for f in findings} == ALL_RULES
    got = Counter((f.rule_id, f.enterprise_id, f.transfer_id) for f in findings)
    expected = Counter(
        {
            ("XB-PATH-MISSING", e[1], "t1"): 1,
            ("XB-THRESHOLD-CROSSED", e[1], "t1"): 1,
            ("XB-DECLARED-BASIS-INVALID", e[1], "t1"): 1,
            ("XB-LATE-DECLARATION", e[1], "t1"): 1,
            ("XB-PATH-INSUFFICIENT", e[2], "t2"): 1,
            ("XB-NEGLIST-HIT", e[3], "t3"): 1,
            ("XB-FILING-EXPIRED", e[4], "t4"): 1,
            ("XB-FILING-REVOKED", e[5], "t5"): 1,
            ("XB-SCOPE-RECIPIENT", e[6], "t6"): 1,
            ("XB-SCOPE-COUNTRY", e[6], "t6"): 1,
            ("XB-SCOPE-CATEGORY", e[6], "t6"): 1,
            ("XB-SCOPE-PURPOSE", e[6], "t6"): 1,
            ("XB-VOLUME-EXCEEDED", e[7], "t7"): 1,
            ("XB-FILING-EXPIRING", e[8], "t8"): 1,
            ("XB-UNDECLARED-EGRESS", e[9], None): 1,
            ("XB-DLP-MISMATCH", e[9], None): 1,
        }
    )
    assert got == expected


def test_severities_are_the_catalogue_defaults(xb):
    _, findings = run_scenario(xb)
    xb.check_severities(findings)


def test_required_path_where_the_procedure_fixes_it(xb):
    _, findings = run_scenario(xb)
    paths = {f.rule_id: f.required_path for f in findings}
    assert paths["XB-PATH-MISSING"] == "contract_or_certification"
    assert paths["XB-PATH-INSUFFICIENT"] == SA
    assert paths["XB-NEGLIST-HIT"] == SA
    for rule in (
        "XB-FILING-EXPIRED",
        "XB-FILING-REVOKED",
        "XB-SCOPE-RECIPIENT",
        "XB-VOLUME-EXCEEDED",
    ):
        assert paths[rule] == "contract_or_certification", rule


def test_transfer_findings_carry_the_transfer_ts(xb):
    logs = scenario(xb)[4]
    ts_of = {log.transfer_id: log.ts for log in logs}
    _, findings = run_scenario(xb)
    for f in findings:
        if f.transfer_id is not None and f.rule_id != "XB-FILING-EXPIRING":
            assert f.ts == ts_of[f.transfer_id], f


def test_output_sorted_by_ts_then_rule_id(xb):
    _, findings = run_scenario(xb)
    keys = [(f.ts, f.rule_id) for f in findings]
    assert keys == sorted(keys)
    # the window findings (08:00Z) come first; on t1 (10:00Z) the rules in id order
    assert [f.rule_id for f in findings[:2]] == ["XB-DLP-MISMATCH", "XB-UNDECLARED-EGRESS"]
    assert [f.rule_id for f in findings[2:6]] == [
        "XB-DECLARED-BASIS-INVALID",
        "XB-LATE-DECLARATION",
        "XB-PATH-MISSING",
        "XB-THRESHOLD-CROSSED",
    ]


def test_finding_ids_are_distinct(xb):
    _, findings = run_scenario(xb)
    ids = [f.finding_id for f in findings]
    assert len(ids) == len(set(ids))
    assert all(ids)


def test_same_input_twice_gives_identical_findings(xb):
    _, first = run_scenario(xb)
    _, second = run_scenario(xb)
    assert [f.model_dump(mode="json") for f in first] == [f.model_dump(mode="json") for f in second]


def test_input_order_does_not_change_findings(xb):
    _, forward = run_scenario(xb)
    _, backward = run_scenario(xb, reverse=True)
    assert [f.model_dump(mode="json") for f in forward] == [
        f.model_dump(mode="json") for f in backward
    ]


def test_finding_id_depends_only_on_what_it_is_about(xb):
    alone = xb.run(logs=[xb.log("t1", sensitive_subjects=1)])
    other = eid(42)
    with_noise = xb.run(
        enterprises=[xb.enterprise(), xb.enterprise(other, name="Other")],
        logs=[
            xb.log("t1", sensitive_subjects=1),
            xb.log("t0", enterprise_id=other, sensitive_subjects=1, ts="2025-01-01T00:00:00Z"),
        ],
    )
    assert xb.pairs(alone) == [("XB-PATH-MISSING", "t1")]
    mine = [f for f in with_noise if f.enterprise_id == xb.A]
    assert [f.finding_id for f in mine] == [alone[0].finding_id]


def test_findings_are_well_formed(xb):
    _, findings = run_scenario(xb)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for f in findings:
        assert isinstance(f, Finding)
        # Built without validation (`schemas.construct.constructed`): exactly the model
        # validating the same values gives, with every field set.
        validated = Finding.model_validate(f.model_dump(mode="json"))
        assert f == validated and f.model_dump_json() == validated.model_dump_json()
        assert finding_json(f) == f.model_dump_json().encode()  # the findings topic's bytes
        assert f.model_fields_set == set(Finding.model_fields)
        assert f.explanation.strip(), f
        assert cjk.search(f.explanation_zh), f
        assert re.fullmatch(r"[0-9a-f]{64}", f.evidence_hash)
        assert uscc.is_valid(f.enterprise_id)


def test_no_findings_for_no_input(xb):
    assert xb.run(enterprises=[], logs=[]) == []
