"""The synthetic world: deterministic, valid, realistic, and its answer key is exact.

The recall test is the generator's contract with the rule engine: every truth record is found
(recall 100 %) and every finding at `high` or `critical` severity is explained by the truth.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel
from stdnum.cn import uscc

from pipeline.synth import (
    DEFAULT_START,
    RULE_IDS,
    WINDOW_RULES,
    TruthRecord,
    World,
    synthesize,
    write_world,
)
from schemas.models import EgressFlow, Enterprise, Filing, Finding, NegativeListEntry, TransferLog

FILES: dict[str, type[BaseModel]] = {
    "enterprises.jsonl": Enterprise,
    "filings.jsonl": Filing,
    "negative_list.jsonl": NegativeListEntry,
    "transfer_logs.jsonl": TransferLog,
    "flows.jsonl": EgressFlow,
    "truth.jsonl": TruthRecord,
}
_BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def world() -> World:
    return synthesize(50, 7, seed=1)


def _read(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in FILES}


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    write_world(synthesize(20, 3, seed=7), tmp_path / "a")
    write_world(synthesize(20, 3, seed=7), tmp_path / "b")
    first, second = _read(tmp_path / "a"), _read(tmp_path / "b")
    assert first == second
    assert all(first[name] for name in FILES)


def test_different_seeds_differ(tmp_path: Path) -> None:
    write_world(synthesize(20, 3, seed=7), tmp_path / "a")
    write_world(synthesize(20, 3, seed=8), tmp_path / "b")
    first, second = _read(tmp_path / "a"), _read(tmp_path / "b")
    for name in ("enterprises.jsonl", "transfer_logs.jsonl", "flows.jsonl", "truth.jsonl"):
        assert first[name] != second[name], name


def test_default_start_is_fixed_and_start_is_respected() -> None:
    assert synthesize(3, 1, seed=0).logs == synthesize(3, 1, seed=0, start=DEFAULT_START).logs
    start = datetime(2024, 11, 4, tzinfo=_BEIJING)
    world = synthesize(5, 2, seed=0, start=start)
    assert all(start <= log.ts < start + timedelta(days=2) for log in world.logs)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        synthesize(5, 1, start=datetime(2025, 1, 1))  # naive
    with pytest.raises(ValueError):
        synthesize(5, 0)
    with pytest.raises(ValueError):
        synthesize(5, 1, violation_rate=1.5)


# --- validity ----------------------------------------------------------------------------------


def test_every_written_line_validates(tmp_path: Path, world: World) -> None:
    write_world(world, tmp_path)
    for name, model in FILES.items():
        lines = (tmp_path / name).read_bytes().splitlines()
        assert lines, name
        for line in lines:
            model.model_validate(orjson.loads(line))
    counts = {name: len((tmp_path / name).read_bytes().splitlines()) for name in FILES}
    assert counts["transfer_logs.jsonl"] == len(world.logs)
    assert counts["flows.jsonl"] == len(world.flows)


def test_replay_reads_the_written_layout_without_errors(tmp_path: Path) -> None:
    from pipeline.replay import replay_dir

    write_world(synthesize(12, 2, seed=3), tmp_path)
    result = replay_dir(tmp_path)
    assert result.errors == []
    assert result.findings


# --- realism -------------------------------------------------------------------------------------


def test_enterprises_are_varied_and_well_formed(world: World) -> None:
    ids = [e.enterprise_id for e in world.enterprises]
    assert len(set(ids)) == len(ids) == 50
    assert all(uscc.is_valid(i) for i in ids)
    assert len({e.sector for e in world.enterprises}) >= 5
    assert {e.ftz for e in world.enterprises} >= {None, "beijing", "shanghai-lingang"}
    assert any(e.is_ciio for e in world.enterprises)
    networks = [n for e in world.enterprises for n in e.egress_cidrs]
    documentation = ipaddress.IPv6Network("2001:db8::/32")
    for net in networks:  # public IPv4 ranges; IPv6 from the documentation prefix
        assert net.is_global if net.version == 4 else net.subnet_of(documentation)
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            assert a.version != b.version or not a.overlaps(b)


def test_filings_of_every_kind_and_state(world: World) -> None:
    assert {f.kind for f in world.filings} == {
        "security_assessment",
        "standard_contract",
        "certification",
    }
    assert {f.status for f in world.filings} >= {"active", "pending", "revoked"}
    assert any(f.valid_until is not None and f.valid_until < DEFAULT_START for f in world.filings)
    assert any(f.max_subjects is not None for f in world.filings)
    assert any(f.recipients for f in world.filings)


def test_logs_have_volume_rhythm_and_heavy_tails(world: World) -> None:
    logs = world.logs
    assert 50 * 7 * 8 <= len(logs) <= 50 * 7 * 40
    hours = Counter(log.ts.astimezone(_BEIJING).hour for log in logs)
    day = sum(hours[h] for h in range(9, 18))
    night = sum(hours[h] for h in (0, 1, 2, 3, 4, 5, 22, 23))
    assert day > 3 * night
    subjects = sorted(log.subjects for log in logs if log.subjects)
    median = subjects[len(subjects) // 2]
    assert subjects[-1] > 50 * median  # heavy tail
    assert all(log.country != "CN" for log in logs)
    assert len({log.country for log in logs}) >= 8
    assert {log.legal_basis for log in logs} >= {"exempt", "standard_contract"}


def test_flows_reconcile_and_include_domestic_traffic(world: World) -> None:
    enterprise_nets = [(e.enterprise_id, n) for e in world.enterprises for n in e.egress_cidrs]

    def owner(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        for enterprise_id, net in enterprise_nets:
            if address in net:
                return enterprise_id
        return None

    assert all(f.dst_country is not None for f in world.flows)
    assert any(f.dst_country == "CN" for f in world.flows)
    assert any(owner(f.src_ip) is None for f in world.flows)  # traffic nobody declared
    for flow in world.flows:
        if flow.enterprise_id is not None:
            assert owner(flow.src_ip) == flow.enterprise_id
    # declared and observed bytes agree per enterprise, country and hour (but for injections)
    declared: Counter[tuple[str, str, datetime]] = Counter()
    observed: Counter[tuple[str, str, datetime]] = Counter()
    for log in world.logs:
        declared[(log.enterprise_id, log.country, _hour(log.ts))] += log.bytes
    for flow in world.flows:
        who = owner(flow.src_ip)
        if who is not None and flow.dst_country != "CN":
            assert flow.dst_country is not None
            observed[(who, flow.dst_country, _hour(flow.ts_start))] += flow.bytes_out
    undeclared = {
        (t.enterprise_id, t.country, t.window_start)
        for t in world.truth
        if t.rule_id == "XB-UNDECLARED-EGRESS"
    }
    over = {k for k, v in observed.items() if v > 1.2 * declared[k] + 10 * 2**20}
    assert over == undeclared


def _hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- the answer key ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_rule_is_injected_from_thirty_enterprises(seed: int) -> None:
    world = synthesize(30, 3, seed=seed)
    assert {t.rule_id for t in world.truth} == set(RULE_IDS)
    for record in world.truth:
        if record.rule_id in WINDOW_RULES:
            assert record.transfer_id is None
            assert record.country is not None and record.window_start is not None
        else:
            assert record.transfer_id is not None


def test_violations_scale_with_enterprises() -> None:
    small = synthesize(40, 2, seed=5)
    large = synthesize(200, 2, seed=5)
    violators = {t.enterprise_id for t in large.truth}
    assert len(violators) >= 55
    assert len(violators) > 2 * len({t.enterprise_id for t in small.truth})
    assert len({t.enterprise_id for t in synthesize(200, 2, seed=5, violation_rate=0.1).truth}) < 30


def _key_of_finding(finding: Finding) -> tuple[str, str, object]:
    if finding.rule_id in WINDOW_RULES:
        return (finding.rule_id, finding.enterprise_id, finding.ts)
    return (finding.rule_id, finding.enterprise_id, finding.transfer_id)


def _key_of_truth(record: TruthRecord) -> tuple[str, str, object]:
    if record.rule_id in WINDOW_RULES:
        return (record.rule_id, record.enterprise_id, record.window_start)
    return (record.rule_id, record.enterprise_id, record.transfer_id)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_finds_the_truth_and_nothing_serious_beyond_it(seed: int) -> None:
    from pipeline.replay import replay_records

    world = synthesize(40, 5, seed=seed)
    findings = replay_records(
        world.enterprises, world.filings, world.negative_list, world.logs, world.flows
    )
    found = {_key_of_finding(f) for f in findings}
    missed = [t for t in world.truth if _key_of_truth(t) not in found]
    assert missed == []
    explained = {_key_of_truth(t) for t in world.truth}
    unexplained = [
        (f.rule_id, f.enterprise_id, f.transfer_id, f.ts, f.explanation)
        for f in findings
        if f.severity in ("high", "critical") and _key_of_finding(f) not in explained
    ]
    assert unexplained == []
