"""The credit and risk model: sums, directions, decay, tiers, recovery, alerts, config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.reference_files import load_country_risk
from pipeline.scoring import (
    FindingRecord,
    Score,
    ScoringConfig,
    ScoringInputs,
    alert_for,
    decay_factor,
    default_scoring_config,
    load_scoring_config,
    policy,
    score,
    tier_of,
)
from pipeline.scoring.config import DEFAULT_SCORING_PATH, SEVERITIES, TIERS
from pipeline.scoring.model import ScoreName
from schemas.types import Severity

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = default_scoring_config()
COUNTRIES = load_country_risk()


def finding(
    severity: Severity = "high", days_ago: float = 1, resolved: bool = True
) -> FindingRecord:
    return FindingRecord(
        rule_id="XB-PATH-MISSING",
        severity=severity,
        ts=NOW - timedelta(days=days_ago),
        resolved=resolved,
    )


BASELINE: dict[str, Any] = {
    "findings": (finding("medium", 30), finding("low", 200, resolved=False)),
    "valid_filings": 1,
    "covered_destinations": frozenset({"DE"}),
    "bytes_by_country": {"DE": 1_000, "US": 1_000},
    "logs": 20,
    "late_logs": 2,
    "subjects": 50_000,
    "sensitive_subjects": 500,
    "important_transfers": 1,
    "declared_bytes": 800,
    "observed_bytes": 1_000,
    "monitored_since": NOW - timedelta(days=400),
}


def run(now: datetime = NOW, **changes: Any) -> Score:
    return score(ScoringInputs(**{**BASELINE, **changes}), now, CONFIG, COUNTRIES)


def points(result: Score, indicator: str) -> float:
    return next(c.points for c in result.contributions if c.indicator == indicator)


def exact_sum(result: Score, name: ScoreName) -> Decimal:
    return sum((Decimal(repr(c.points)) for c in result.of(name)), Decimal(0))


# --- contributions add up ----------------------------------------------------------------------

findings_st = st.lists(
    st.builds(
        FindingRecord,
        rule_id=st.just("XB-SCOPE-COUNTRY"),
        severity=st.sampled_from(SEVERITIES),
        ts=st.integers(-800, 30).map(lambda d: NOW + timedelta(days=d)),
        resolved=st.booleans(),
    ),
    max_size=12,
).map(tuple)


@st.composite
def inputs_st(draw: st.DrawFn) -> ScoringInputs:
    logs = draw(st.integers(0, 1_000))
    dests = draw(
        st.dictionaries(st.sampled_from(["US", "DE", "SG", "JP", "RU"]), st.integers(0, 10**12))
    )
    return ScoringInputs(
        is_ciio=draw(st.booleans()),
        findings=draw(findings_st),
        valid_filings=draw(st.integers(0, 5)),
        has_certification=draw(st.booleans()),
        covered_destinations=frozenset(draw(st.sets(st.sampled_from(["US", "DE", "SG"])))),
        logs=logs,
        late_logs=draw(st.integers(0, logs)),
        subjects=draw(st.integers(0, 5_000_000)),
        sensitive_subjects=draw(st.integers(0, 50_000)),
        important_transfers=draw(st.integers(0, 50)),
        bytes_by_country=dests,
        declared_bytes=draw(st.integers(0, 10**12)),
        observed_bytes=draw(st.integers(0, 10**12)),
    )


@st.composite
def heavy_config(draw: st.DrawFn) -> ScoringConfig:
    """The default config with random weights, so both clamps get exercised."""
    data = yaml.safe_load(DEFAULT_SCORING_PATH.read_text(encoding="utf-8"))
    data["credit"]["base"] = draw(st.floats(0, 100, allow_nan=False))
    for section in ("credit", "risk"):
        for indicator in data[section]["indicators"]:
            indicator["weight"] = draw(st.floats(0, 150, allow_nan=False))
    return ScoringConfig.model_validate(data)


@settings(max_examples=300, deadline=None)
@given(inputs=inputs_st(), config=st.one_of(st.just(CONFIG), heavy_config()))
def test_contributions_sum_exactly_to_each_score(
    inputs: ScoringInputs, config: ScoringConfig
) -> None:
    result = score(inputs, NOW, config, COUNTRIES)
    assert 0 <= result.credit <= 100 and 0 <= result.risk <= 100
    assert exact_sum(result, "credit") == Decimal(repr(result.credit))
    assert exact_sum(result, "risk") == Decimal(repr(result.risk))
    named = [c.indicator for c in result.contributions if c.indicator not in ("base", "clamp")]
    assert sorted(named) == sorted(
        [i.name for i in config.credit.indicators] + [i.name for i in config.risk.indicators]
    )
    assert all(c.reason for c in result.contributions)
    assert result.tier == tier_of(result.credit, result.risk, config)
    assert result.config_version == config.version


def test_clamp_is_an_explicit_contribution() -> None:
    result = run(
        findings=tuple(finding("critical", 0, resolved=False) for _ in range(10)),
        late_logs=20,
        covered_destinations=frozenset(),
    )
    assert result.credit == 0
    assert [c.indicator for c in result.of("credit")][-1] != "clamp"  # defaults never clamp
    data = yaml.safe_load(DEFAULT_SCORING_PATH.read_text(encoding="utf-8"))
    data["credit"]["indicators"][0]["weight"] = 200
    heavy = ScoringConfig.model_validate(data)
    clamped = score(
        ScoringInputs(**{**BASELINE, "findings": (finding("critical", 0),) * 5}),
        NOW,
        heavy,
        COUNTRIES,
    )
    assert clamped.credit == 0
    clamp = clamped.of("credit")[-1]
    assert clamp.indicator == "clamp" and clamp.points > 0


def test_score_is_a_sum_the_model_checks() -> None:
    good = run()
    with pytest.raises(ValidationError, match="add up"):
        Score.model_validate({**good.model_dump(), "credit": good.credit + 1})


# --- each indicator moves its score the right way ----------------------------------------------

WORSE_CREDIT: dict[str, dict[str, Any]] = {
    "findings": {"findings": (*BASELINE["findings"], finding("high", 10))},
    "unresolved": {
        "findings": (finding("medium", 30, resolved=False), finding("low", 200, resolved=False))
    },
    "coverage": {"covered_destinations": frozenset()},
    "late_declaration": {"late_logs": 6},
    "certification": {"has_certification": False},
    "clean_period": {"findings": (*BASELINE["findings"], finding("low", 1))},
}


@pytest.mark.parametrize("indicator", sorted(WORSE_CREDIT))
def test_each_credit_indicator_lowers_credit_when_worse(indicator: str) -> None:
    better = run(has_certification=True) if indicator == "certification" else run()
    worse = run(**WORSE_CREDIT[indicator])
    assert points(worse, indicator) < points(better, indicator)
    assert worse.credit < better.credit


WORSE_RISK: dict[str, dict[str, Any]] = {
    "important_data": {"important_transfers": 3},
    "sensitive_pi": {"sensitive_subjects": 5_000},
    "scale": {"subjects": 600_000},
    "destination_risk": {"bytes_by_country": {"DE": 1_000, "US": 1_000, "AR": 5_000}},
    "undeclared_egress": {"declared_bytes": 100},
    "ciio": {"is_ciio": True},
    "recent_critical": {"findings": (*BASELINE["findings"], finding("critical", 5))},
}


@pytest.mark.parametrize("indicator", sorted(WORSE_RISK))
def test_each_risk_indicator_raises_risk_when_worse(indicator: str) -> None:
    assert COUNTRIES.score("AR") > COUNTRIES.score("US")  # AR is unlisted: the default
    better, worse = run(), run(**WORSE_RISK[indicator])
    assert points(worse, indicator) > points(better, indicator)
    assert worse.risk > better.risk


@settings(max_examples=100, deadline=None)
@given(inputs=inputs_st(), extra=st.integers(1, 1_000_000))
def test_more_subjects_never_lower_risk(inputs: ScoringInputs, extra: int) -> None:
    before = score(inputs, NOW, CONFIG, COUNTRIES)
    after = score(
        inputs.model_copy(update={"subjects": inputs.subjects + extra}), NOW, CONFIG, COUNTRIES
    )
    assert after.risk >= before.risk and after.credit == before.credit


@settings(max_examples=100, deadline=None)
@given(inputs=inputs_st(), severity=st.sampled_from(SEVERITIES), days=st.integers(0, 700))
def test_another_finding_never_raises_credit(
    inputs: ScoringInputs, severity: Severity, days: int
) -> None:
    before = score(inputs, NOW, CONFIG, COUNTRIES)
    more = inputs.model_copy(
        update={"findings": (*inputs.findings, finding(severity, days, resolved=False))}
    )
    after = score(more, NOW, CONFIG, COUNTRIES)
    assert after.credit <= before.credit and after.risk >= before.risk


# --- decay -------------------------------------------------------------------------------------


def test_finding_weight_halves_after_the_half_life() -> None:
    half_life = CONFIG.findings.half_life_days
    assert decay_factor(timedelta(0), half_life) == 1
    assert decay_factor(timedelta(days=half_life), half_life) == pytest.approx(0.5)
    assert decay_factor(timedelta(days=2 * half_life), half_life) == pytest.approx(0.25)
    fresh = run(findings=(finding("high", 0),))
    aged = run(findings=(finding("high", half_life),))
    assert points(aged, "findings") == pytest.approx(points(fresh, "findings") / 2, abs=0.01)


def test_an_old_finding_hurts_less_than_a_new_one() -> None:
    assert run(findings=(finding("high", 400),)).credit > run(findings=(finding("high", 5),)).credit


def test_findings_after_now_are_ignored() -> None:
    assert run(findings=(finding("critical", -3),)) == run(findings=())


# --- tiers -------------------------------------------------------------------------------------


def test_tier_boundaries_are_inclusive_for_credit_and_exclusive_for_risk() -> None:
    cut = CONFIG.tiers
    assert tier_of(cut.A.min_credit, cut.A.max_risk - 0.01, CONFIG) == "A"
    assert tier_of(cut.A.min_credit - 0.01, 0, CONFIG) == "B"
    assert tier_of(100, cut.A.max_risk, CONFIG) == "B"
    assert tier_of(cut.B.min_credit, cut.B.max_risk - 0.01, CONFIG) == "B"
    assert tier_of(100, cut.B.max_risk, CONFIG) == "C"
    assert tier_of(cut.C.min_credit, 0, CONFIG) == "C"
    assert tier_of(cut.C.min_credit - 0.01, 0, CONFIG) == "D"
    assert tier_of(100, cut.C.max_risk, CONFIG) == "D"
    assert tier_of(100, 100, CONFIG) == "D" and tier_of(0, 0, CONFIG) == "D"


def test_defaults_follow_the_documented_cut_offs() -> None:
    assert (CONFIG.tiers.A.min_credit, CONFIG.tiers.A.max_risk) == (90, 30)
    assert (CONFIG.tiers.B.min_credit, CONFIG.tiers.B.max_risk) == (70, 50)
    assert (CONFIG.tiers.C.min_credit, CONFIG.tiers.C.max_risk) == (40, 70)
    checks = {
        t: (policy(t, CONFIG).spot_check_ratio, policy(t, CONFIG).frequency_months) for t in TIERS
    }
    assert checks == {"A": (0.05, 12), "B": (0.10, 6), "C": (0.20, 3), "D": (0.40, 1)}


def test_a_d_enterprise_that_stays_clean_climbs_back() -> None:
    inputs = ScoringInputs(
        findings=(
            *(finding("critical", 1) for _ in range(3)),
            finding("high", 1),
            finding("high", 1),
        ),
        valid_filings=1,
        covered_destinations=frozenset({"DE"}),
        bytes_by_country={"DE": 10_000},
        logs=10,
        subjects=5_000,
    )
    tiers = [
        score(inputs, NOW + timedelta(days=d), CONFIG, COUNTRIES).tier for d in (0, 90, 180, 365)
    ]
    assert tiers == ["D", "C", "B", "A"]
    credits = [
        score(inputs, NOW + timedelta(days=d), CONFIG, COUNTRIES).credit for d in range(0, 400, 10)
    ]
    assert credits == sorted(credits)


def test_unresolved_findings_hold_an_enterprise_back() -> None:
    inputs = ScoringInputs(findings=(finding("high", 1, resolved=False),) * 3)
    assert (
        score(inputs, NOW + timedelta(days=730), CONFIG, COUNTRIES).credit
        < score(
            inputs.model_copy(update={"findings": (finding("high", 1),) * 3}),
            NOW + timedelta(days=730),
            CONFIG,
            COUNTRIES,
        ).credit
    )


# --- alerts ------------------------------------------------------------------------------------


def test_alert_matrix_by_tier() -> None:
    assert alert_for("medium", "D", CONFIG)[1] == "page"
    assert alert_for("low", "A", CONFIG)[1] == "ticket"
    assert alert_for("info", "A", CONFIG) == ("info", "none")
    assert alert_for("critical", "A", CONFIG) == ("critical", "page")
    assert alert_for("medium", "C", CONFIG) == ("medium", "ticket")
    order = ["none", "ticket", "page"]
    for severity in SEVERITIES:
        routes = [order.index(alert_for(severity, t, CONFIG)[1]) for t in TIERS]
        assert routes == sorted(routes), severity  # a worse tier never routes more quietly
        levels = [SEVERITIES.index(alert_for(severity, t, CONFIG)[0]) for t in TIERS]
        assert levels == sorted(levels), severity


# --- configuration -----------------------------------------------------------------------------


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _defaults() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_SCORING_PATH.read_text(encoding="utf-8"))
    return data


def test_shipped_yaml_loads() -> None:
    config = load_scoring_config()
    assert config.version and config == CONFIG
    assert sum(i.weight for i in config.risk.indicators) == 100
    assert (
        config.credit.base
        + sum(
            i.weight
            for i in config.credit.indicators
            if i.name in ("certification", "clean_period")
        )
        == 100
    )


def test_unordered_cut_offs_are_refused(tmp_path: Path) -> None:
    data = _defaults()
    data["tiers"]["B"]["min_credit"] = 95
    with pytest.raises(ValidationError, match="min_credit"):
        load_scoring_config(_write(tmp_path, data))
    data = _defaults()
    data["tiers"]["C"]["max_risk"] = 40
    with pytest.raises(ValidationError, match="max_risk"):
        load_scoring_config(_write(tmp_path, data))


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    data = _defaults()
    data["credit"]["indicators"][0]["weigth"] = 3
    with pytest.raises(ValidationError, match="weigth"):
        load_scoring_config(_write(tmp_path, data))
    data = _defaults()
    data["cutoffs"] = {}
    with pytest.raises(ValidationError, match="cutoffs"):
        load_scoring_config(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["policies"]["B"].update(spot_check_ratio=0), "spot_check_ratio"),
        (lambda d: d["policies"]["D"].update(spot_check_ratio=1.5), "spot_check_ratio"),
        (lambda d: d["policies"]["C"].update(spot_check_ratio=0.01), "spot_check_ratio"),
        (lambda d: d["policies"]["D"].update(frequency_months=24), "frequency_months"),
        (lambda d: d["risk"]["indicators"][0].update(weight=-1), "weight"),
        (
            lambda d: d["risk"]["indicators"].append(dict(d["risk"]["indicators"][0])),
            "more than once",
        ),
        (lambda d: d["credit"]["indicators"].pop(), "missing clean_period"),
        (lambda d: d["risk"]["indicators"][0].update(name="vibes"), "name"),
        (lambda d: d["policies"]["A"]["alerts"].pop("low"), "alerts"),
        (lambda d: d["policies"]["A"]["alerts"].update(low=["low", "email"]), "alerts"),
        (lambda d: d["findings"].update(half_life_days=0), "half_life_days"),
        (lambda d: d.pop("version"), "version"),
    ],
)
def test_bad_yaml_is_refused_naming_the_field(tmp_path: Path, edit: Any, field: str) -> None:
    data = _defaults()
    edit(data)
    with pytest.raises(ValidationError, match=field):
        load_scoring_config(_write(tmp_path, data))


def test_non_mapping_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scoring.yaml"
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        load_scoring_config(path)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        score(ScoringInputs(), datetime(2026, 1, 1), CONFIG, COUNTRIES)
