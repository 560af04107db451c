from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.spotcheck import (
    DEFAULT_POLICIES,
    Plan,
    Selection,
    SpotcheckError,
    TierPolicy,
    draw_plan,
    is_due,
    load_plan,
    normalize_seed,
    parse_period,
    plan_csv,
    plan_json,
    rank,
    read_inspectors,
    read_register_csv,
    sample_size,
    store_plan,
    verify_plan,
)

SEED = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
OTHER_SEED = "00112233445566778899aabbccddeeff"


def make_register(n_per_tier: dict[str, int]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for tier, n in n_per_tier.items():
        rows.extend((f"91310000{tier}{i:06d}", tier) for i in range(n))
    return rows


REGISTER = make_register({"A": 40, "B": 30, "C": 25, "D": 50})
INSPECTORS = [f"insp-{i:02d}" for i in range(9)]


def january() -> Plan:
    return draw_plan("2026-01", SEED, REGISTER, INSPECTORS, DEFAULT_POLICIES)


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_bytes() -> None:
    a = plan_json(draw_plan("2026-01", SEED, REGISTER, INSPECTORS))
    b = plan_json(draw_plan("2026-01", SEED, REGISTER, INSPECTORS))
    assert a == b
    assert b" " not in a.replace(b'"', b"")  # no whitespace outside strings (ids have none)
    keys = list(orjson.loads(a))
    assert keys == sorted(keys)


@given(st.randoms(use_true_random=False))
@settings(max_examples=25, deadline=None)
def test_independent_of_input_order(rnd: random.Random) -> None:
    reg = list(REGISTER)
    insp = list(INSPECTORS)
    rnd.shuffle(reg)
    rnd.shuffle(insp)
    pols = dict(reversed(list(DEFAULT_POLICIES.items())))
    assert plan_json(draw_plan("2026-01", SEED, reg, insp, pols)) == plan_json(january())


def test_seed_case_and_prefix_normalised() -> None:
    assert plan_json(draw_plan("2026-01", "0x" + SEED.upper(), REGISTER, INSPECTORS)) == plan_json(
        january()
    )


def test_other_seed_other_plan() -> None:
    a = january()
    b = draw_plan("2026-01", OTHER_SEED, REGISTER, INSPECTORS)
    assert [s.enterprise_id for s in a.selections] != [s.enterprise_id for s in b.selections]
    assert a.counts == b.counts


def test_other_period_other_plan() -> None:
    a = draw_plan("2026-02", SEED, REGISTER, INSPECTORS)
    b = draw_plan("2026-03", SEED, REGISTER, INSPECTORS)
    assert {s.enterprise_id for s in a.selections} != {s.enterprise_id for s in b.selections}


def test_rank_is_hmac_of_canonical_fields() -> None:
    import hashlib
    import hmac

    expected = hmac.new(
        bytes.fromhex(SEED), b'["target","2026-01","A","x"]', hashlib.sha256
    ).hexdigest()
    assert rank(SEED, "target", "2026-01", "A", "x") == expected


# --- the draw -------------------------------------------------------------------------------------


def test_sample_size_exact_decimal() -> None:
    assert sample_size(0.1, 30) == 3  # float 0.1 * 30 would ceil to 4
    assert sample_size(0.05, 40) == 2
    assert sample_size(0.05, 1) == 1
    assert sample_size(0.4, 0) == 0
    assert sample_size(1.0, 7) == 7
    assert sample_size(0.0, 7) == 0


@pytest.mark.parametrize(
    ("period", "due"),
    [
        ("2026-01", {"A", "B", "C", "D"}),
        ("2026-02", {"D"}),
        ("2026-04", {"C", "D"}),
        ("2026-07", {"B", "C", "D"}),
        ("2026-10", {"C", "D"}),
        ("2026-12", {"D"}),
    ],
)
def test_due_tiers_only(period: str, due: set[str]) -> None:
    plan = draw_plan(period, SEED, REGISTER, INSPECTORS)
    assert {t for t, p in DEFAULT_POLICIES.items() if is_due(p, period)} == due
    assert {s.tier for s in plan.selections} == due
    for tier, count in plan.counts.items():
        assert count.due == (tier in due)
        if tier not in due:
            assert count.selected == 0


def test_every_tier_checked_once_per_cycle_over_a_year() -> None:
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    per_tier = Counter(t for m in months for t, p in DEFAULT_POLICIES.items() if is_due(p, m))
    assert per_tier == {"A": 1, "B": 2, "C": 4, "D": 12}


@given(
    n=st.dictionaries(st.sampled_from("ABCD"), st.integers(0, 60), min_size=1),
    n_insp=st.integers(2, 12),
    seed=st.binary(min_size=16, max_size=32).map(bytes.hex),
)
@settings(max_examples=60, deadline=None)
def test_draw_invariants(n: dict[str, int], n_insp: int, seed: str) -> None:
    register = make_register(n)
    inspectors = [f"i{k}" for k in range(n_insp)]
    plan = draw_plan("2026-01", seed, register, inspectors)
    tier_of = dict(register)
    ids = [s.enterprise_id for s in plan.selections]
    assert len(ids) == len(set(ids)), "no enterprise twice"
    for sel in plan.selections:
        assert tier_of[sel.enterprise_id] == sel.tier
        assert len(sel.inspectors) == 2
        assert len(set(sel.inspectors)) == 2
        assert set(sel.inspectors) <= set(inspectors)
    by_tier = Counter(s.tier for s in plan.selections)
    for tier, policy in DEFAULT_POLICIES.items():
        count = n.get(tier, 0)
        assert plan.counts[tier].registered == count
        assert plan.counts[tier].selected == by_tier[tier]
        assert by_tier[tier] <= count
        # within rounding: ceil never adds more than one enterprise
        assert policy.ratio * count <= by_tier[tier] + 1e-9 < policy.ratio * count + 1
        assert by_tier[tier] == math.ceil(round(policy.ratio * count, 9))
    load = Counter(i for s in plan.selections for i in s.inspectors)
    loads = [load[i] for i in inspectors]
    assert max(loads) - min(loads) <= 1, "inspector load balanced within one"


def test_targets_are_lowest_hmac_ranks() -> None:
    plan = draw_plan("2026-02", SEED, REGISTER, INSPECTORS)
    d = [e for e, t in REGISTER if t == "D"]
    ranked = sorted(d, key=lambda e: rank(SEED, "target", "2026-02", "D", e))
    assert [s.enterprise_id for s in plan.selections] == ranked[:20]


def test_csv_rendering() -> None:
    plan = january()
    rows = list(csv.reader(io.StringIO(plan_csv(plan))))
    assert rows[0] == ["period", "seq", "enterprise_id", "tier", "inspector_1", "inspector_2"]
    assert len(rows) == len(plan.selections) + 1
    first = plan.selections[0]
    assert rows[1] == ["2026-01", "1", first.enterprise_id, first.tier, *first.inspectors]
    assert plan_csv(plan) == plan_csv(january())


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "x"])
def test_invalid_period_refused(period: str) -> None:
    with pytest.raises(SpotcheckError, match="period"):
        draw_plan(period, SEED, REGISTER, INSPECTORS)


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("", "hexadecimal"),
        ("not-hex-at-all-not-hex-at-all-00", "hexadecimal"),
        ("abc", "even number"),
        ("00112233445566778899aabbccddee", "at least 128 bits"),
    ],
)
def test_invalid_seed_refused(seed: str, message: str) -> None:
    with pytest.raises(SpotcheckError, match=message):
        draw_plan("2026-01", seed, REGISTER, INSPECTORS)


def test_bad_registers_refused() -> None:
    with pytest.raises(SpotcheckError, match="more than once"):
        draw_plan("2026-01", SEED, [*REGISTER, REGISTER[0]], INSPECTORS)
    with pytest.raises(SpotcheckError, match="no policy"):
        draw_plan("2026-01", SEED, [("e1", "E")], INSPECTORS)
    with pytest.raises(SpotcheckError, match="at least 2 inspectors"):
        draw_plan("2026-01", SEED, REGISTER, ["only-one"])
    with pytest.raises(SpotcheckError, match="inspector 'x' appears more than once"):
        draw_plan("2026-01", SEED, REGISTER, ["x", "x", "y"])


def test_tuple_policies_accepted() -> None:
    pols = {t: (p.ratio, p.every_months) for t, p in DEFAULT_POLICIES.items()}
    assert plan_json(draw_plan("2026-01", SEED, REGISTER, INSPECTORS, pols)) == plan_json(january())
    with pytest.raises(SpotcheckError, match="tier 'A'"):
        draw_plan("2026-01", SEED, REGISTER, INSPECTORS, {"A": (1.5, 12)})


def test_parse_period() -> None:
    assert parse_period("2026-03") == (2026, 3)
    assert normalize_seed(" 0X" + "AB" * 16 + " ") == "ab" * 16


# --- verify ---------------------------------------------------------------------------------------


def verify(published: bytes | Plan, **kw: str) -> tuple[bool, list[str]]:
    result = verify_plan(published, REGISTER, INSPECTORS, DEFAULT_POLICIES, **kw)
    return result.ok, result.reasons


def test_verify_accepts_untouched_plan() -> None:
    plan = january()
    assert verify(plan_json(plan)) == (True, [])
    assert verify(plan) == (True, [])
    assert verify(plan_json(plan), expected_seed=SEED, expected_period="2026-01") == (True, [])
    # register given in another order is the same register
    shuffled = list(reversed(REGISTER))
    assert verify_plan(plan_json(plan), shuffled, INSPECTORS[::-1]).ok


def tamper(plan: Plan, **changes: object) -> bytes:
    return plan_json(plan.model_copy(update=changes))


def test_verify_rejects_seed_or_period_change() -> None:
    plan = january()
    ok, reasons = verify(tamper(plan, seed=OTHER_SEED))
    assert not ok and any("drawn" in r or "inspectors" in r for r in reasons)
    ok, reasons = verify(plan_json(plan), expected_seed=OTHER_SEED)
    assert not ok and "seed differs" in reasons[0]
    ok, reasons = verify(tamper(plan, period="2026-02"))
    assert not ok
    ok, reasons = verify(plan_json(plan), expected_period="2026-02")
    assert not ok and "period" in reasons[0]
    ok, reasons = verify(tamper(plan, seed="zz"))
    assert not ok and "hexadecimal" in reasons[0]


def test_verify_tells_changed_register_from_tampering() -> None:
    plan = january()
    changed = [*REGISTER, ("91310000Z000001", "D")]
    result = verify_plan(plan_json(plan), changed, INSPECTORS)
    assert not result.ok
    assert "register_digest mismatch" in result.reasons[0]
    result = verify_plan(plan_json(plan), REGISTER, [*INSPECTORS, "insp-new"])
    assert not result.ok
    assert any("inspectors_digest" in r for r in result.reasons)
    other = {**DEFAULT_POLICIES, "D": TierPolicy(ratio=0.5, every_months=1)}
    result = verify_plan(plan_json(plan), REGISTER, INSPECTORS, other)
    assert not result.ok
    assert any("policies" in r for r in result.reasons)


def test_verify_rejects_tampered_counts_and_digest() -> None:
    plan = january()
    counts = dict(plan.counts)
    counts["A"] = counts["A"].model_copy(update={"selected": 1})
    ok, reasons = verify(tamper(plan, counts=counts))
    assert not ok and any("counts for tier A" in r for r in reasons)
    ok, reasons = verify(tamper(plan, register_digest="0" * 64))
    assert not ok and "register_digest" in reasons[0]


def test_verify_rejects_reordered_or_garbage() -> None:
    plan = january()
    sels = list(plan.selections)
    sels[0], sels[1] = sels[1], sels[0]
    ok, _ = verify(tamper(plan, selections=tuple(sels)))
    assert not ok
    ok, reasons = verify(b"{not json")
    assert not ok and "not a valid spot-check plan" in reasons[0]
    ok, reasons = verify(plan_json(plan) + b" ")
    assert ok  # trailing whitespace from a file is tolerated
    pretty = orjson.dumps(orjson.loads(plan_json(plan)), option=orjson.OPT_INDENT_2)
    ok, reasons = verify(pretty)
    assert not ok and "canonical" in reasons[0]


PLAN = january()
SELECTED = {s.enterprise_id for s in PLAN.selections}
UNSELECTED = sorted(e for e, _ in REGISTER if e not in SELECTED)


@given(
    index=st.integers(0, len(PLAN.selections) - 1),
    kind=st.sampled_from(["enterprise", "inspector", "tier", "swap", "drop", "duplicate"]),
    choice=st.integers(0, 10_000),
)
@settings(max_examples=150, deadline=None)
def test_verify_rejects_any_tampered_selection(index: int, kind: str, choice: int) -> None:
    sels = list(PLAN.selections)
    sel = sels[index]
    if kind == "enterprise":
        new_id = UNSELECTED[choice % len(UNSELECTED)]
        sels[index] = sel.model_copy(update={"enterprise_id": new_id})
    elif kind == "inspector":
        slot = choice % 2
        others = [i for i in INSPECTORS if i not in sel.inspectors]
        pair = list(sel.inspectors)
        pair[slot] = others[choice % len(others)]
        sels[index] = sel.model_copy(update={"inspectors": tuple(pair)})
    elif kind == "tier":
        tiers = [t for t in "ABCD" if t != sel.tier]
        sels[index] = sel.model_copy(update={"tier": tiers[choice % 3]})
    elif kind == "swap":
        sels[index] = sel.model_copy(update={"inspectors": sel.inspectors[::-1]})
    elif kind == "drop":
        del sels[index]
    else:
        sels.append(sel)
    ok, reasons = verify(tamper(PLAN, selections=tuple(sels)))
    assert not ok
    assert reasons


def test_verify_names_the_tampered_inspector() -> None:
    sels = list(PLAN.selections)
    sel = sels[3]
    spare = next(i for i in INSPECTORS if i not in sel.inspectors)
    sels[3] = Selection(
        enterprise_id=sel.enterprise_id, tier=sel.tier, inspectors=(sel.inspectors[0], spare)
    )
    ok, reasons = verify(tamper(PLAN, selections=tuple(sels)))
    assert not ok
    assert reasons == [
        f"{sel.enterprise_id}: inspectors {[sel.inspectors[0], spare]} in the plan, "
        f"recomputed {list(sel.inspectors)}"
    ]


# --- storage helpers -----------------------------------------------------------------------------


def test_store_and_load(tmp_path: Path) -> None:
    plan = january()
    path = store_plan(plan, tmp_path)
    assert path == tmp_path / "spotcheck" / "plan-2026-01.json"
    assert path.read_bytes() == plan_json(plan)
    assert load_plan(path) == plan
    assert store_plan(plan, tmp_path) == path  # same bytes: no-op
    other = draw_plan("2026-01", OTHER_SEED, REGISTER, INSPECTORS)
    with pytest.raises(FileExistsError):
        store_plan(other, tmp_path)
    store_plan(other, tmp_path, overwrite=True)
    assert load_plan(path) == other


def test_read_registers(tmp_path: Path) -> None:
    reg = tmp_path / "register.csv"
    reg.write_text("enterprise_id,tier\ne1,A\n e2 ,D\n", encoding="utf-8")
    assert read_register_csv(reg) == [("e1", "A"), ("e2", "D")]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,class\ne1,A\n", encoding="utf-8")
    with pytest.raises(SpotcheckError, match="enterprise_id,tier"):
        read_register_csv(bad)
    insp = tmp_path / "inspectors.txt"
    insp.write_text("# market supervision bureau\ninsp-1\n\n insp-2  # part-time\n")
    assert read_inspectors(insp) == ["insp-1", "insp-2"]
