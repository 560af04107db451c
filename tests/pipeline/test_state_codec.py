from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.config import default_rules_config
from pipeline.replay import replay_records, sort_findings
from pipeline.rules.engine import Engine
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import EnterpriseState, WindowAggregate, YearCounters
from pipeline.state_codec import decode_state, encode_state


def sample_state() -> EnterpriseState:
    return EnterpriseState(
        years={
            2025: YearCounters(
                subjects=120_000,
                sensitive=12,
                category_sets={frozenset({"pi.general", "auto.trajectory"}): 99, frozenset(): 1},
                filing_used={"F-1": 100, "F-2": 7},
            )
        },
        seen_transfers={"t2", "t1"},
        applied_offsets={"egress.flows.attributed": 41},
        expiring_notified={"F-1"},
        windows={
            ("DE", datetime(2025, 3, 3, 2, tzinfo=UTC)): WindowAggregate(
                declared_bytes=10,
                declared_logs=1,
                declared_categories={"pi.general"},
                observed_bytes=20,
                observed_flows=2,
                observed_dlp={"pi.sensitive.health"},
            )
        },
    )


def test_round_trip_is_exact() -> None:
    state = sample_state()
    assert decode_state(encode_state(state)) == state


def test_encoding_is_deterministic() -> None:
    a = sample_state()
    b = sample_state()
    b.seen_transfers = {"t1", "t2"}
    assert encode_state(a) == encode_state(b)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown enterprise state format"):
        decode_state(b'{"v": 99}')


def test_replay_state_survives_a_round_trip_between_transfers() -> None:
    """Evaluating half, persisting and restoring, then the rest gives replay's findings."""
    from pipeline.synth import synthesize

    world = synthesize(enterprises=12, days=3, seed=5)
    expected = replay_records(
        world.enterprises, world.filings, world.negative_list, world.logs, world.flows
    )
    reference = ReferenceIndex.build(world.enterprises, world.filings, world.negative_list)
    config = default_rules_config()
    engine = Engine(reference, config, lambda _: None)
    for flow in world.flows:
        engine.flow(flow)
    logs = sorted(world.logs, key=lambda log: (log.ts, log.transfer_id))
    found = []
    half = len(logs) // 2
    for log in logs[:half]:
        found.extend(f.finding for f in engine.transfer(log))
    restored = {k: decode_state(encode_state(v)) for k, v in engine.states.items()}
    engine = Engine(reference, config, lambda _: None, states=restored)
    for log in logs[half:]:
        found.extend(f.finding for f in engine.transfer(log))
    found.extend(f.finding for w in engine.close_all() for f in w.findings)
    assert sort_findings(found) == expected
