"""Property tests: the engine against a tiny independent model of steps 2 and 5-7, yearly
totals in Asia/Shanghai and event-time order (spec/contracts.md, "The decision procedure")."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SHANGHAI = ZoneInfo("Asia/Shanghai")
# a window of four days around the new year in Beijing time
BASE = datetime(2024, 12, 30, 0, 0, tzinfo=SHANGHAI).astimezone(UTC)

transfer = st.tuples(
    st.sampled_from(["A", "B"]),  # enterprise (only A holds a standard contract, if any)
    st.integers(0, 4 * 24 * 60 - 1),  # minute offset from BASE
    st.sampled_from(["business", "business", "marketing", "hr_management"]),
    st.integers(0, 450_000),  # subjects
    st.one_of(st.just(0), st.integers(0, 6_000)),  # sensitive subjects
)


def model(rows, contract):
    """Expected (rule_id, enterprise, transfer_id, required_path) multiset.

    rows are (tid, ts, enterprise, purpose, subjects, sensitive); `contract`: enterprise A
    holds a valid, unrestricted standard contract."""
    totals: dict[tuple[str, int], list[int]] = {}
    expected = []
    for tid, ts, ent, purpose, subjects, sensitive in sorted(rows, key=lambda r: (r[1], r[0])):
        if purpose == "hr_management":
            continue  # exempt_purpose: not counted, no finding
        key = (ent, ts.astimezone(SHANGHAI).year)
        s0, z0 = totals.setdefault(key, [0, 0])
        s1, z1 = s0 + subjects, z0 + sensitive
        totals[key] = [s1, z1]
        if s1 >= 1_000_000 or (sensitive >= 1 and z1 >= 10_000):
            path = "security_assessment"
        elif s1 >= 100_000 or sensitive >= 1:
            path = "contract_or_certification"
        else:
            path = None
        holds = contract and ent == "A"
        if path == "security_assessment":
            rule = "XB-PATH-INSUFFICIENT" if holds else "XB-PATH-MISSING"
            expected.append((rule, ent, tid, path))
        elif path and not holds:
            expected.append(("XB-PATH-MISSING", ent, tid, path))
        for before, after, limit in ((s0, s1, 100_000), (s0, s1, 1_000_000), (z0, z1, 10_000)):
            if before < limit <= after:
                expected.append(("XB-THRESHOLD-CROSSED", ent, tid, None))
    return Counter(expected)


def build(xb, raw):
    rows, logs = [], []
    for i, (ent, minute, purpose, subjects, sensitive) in enumerate(raw):
        tid = f"t{i:03d}"
        ts = BASE + timedelta(minutes=minute)
        rows.append((tid, ts, ent, purpose, subjects, sensitive))
        cats = ["pi.general", "pi.sensitive.health"] if sensitive else ["pi.general"]
        logs.append(
            xb.log(
                tid,
                enterprise_id=xb.A if ent == "A" else xb.B,
                ts=ts,
                purpose=purpose,
                subjects=subjects,
                sensitive_subjects=sensitive,
                categories=cats,
            )
        )
    return rows, logs


def enterprises(xb):
    return [xb.enterprise(), xb.enterprise(xb.B, name="Beta")]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.lists(transfer, min_size=1, max_size=12), contract=st.booleans())
def test_engine_matches_the_model(xb, raw, contract):
    rows, logs = build(xb, raw)
    filings = [xb.filing("fc", "standard_contract")] if contract else []
    findings = xb.run(enterprises=enterprises(xb), filings=filings, logs=logs)
    name = {xb.A: "A", xb.B: "B"}
    got = Counter(
        (
            f.rule_id,
            name[f.enterprise_id],
            f.transfer_id,
            None if f.rule_id == "XB-THRESHOLD-CROSSED" else f.required_path,
        )
        for f in findings
    )
    assert got == model(rows, contract)
    keys = [(f.ts, f.rule_id) for f in findings]
    assert keys == sorted(keys)
    assert len({f.finding_id for f in findings}) == len(findings)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.lists(transfer, min_size=1, max_size=10), data=st.data())
def test_input_order_is_irrelevant(xb, raw, data):
    _, logs = build(xb, raw)
    shuffled = data.draw(st.permutations(logs))
    first = [f.model_dump(mode="json") for f in xb.run(enterprises(xb), logs=logs)]
    second = [f.model_dump(mode="json") for f in xb.run(enterprises(xb), logs=shuffled)]
    assert first == second
