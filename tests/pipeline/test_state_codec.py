from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_archived_ids_leave_the_state_value_but_still_catch_a_resend() -> None:
    from pipeline.state_codec import decode_seen_chunk, encode_seen_chunk

    state = EnterpriseState()
    state.seen_transfers = {f"t{i}" for i in range(300)}
    assert state.archive_seen(400) is None  # under the limit: nothing moves
    index, chunk = state.archive_seen(256) or (None, set())
    assert index == 0 and len(chunk) == 300 and state.seen_transfers == set()
    assert state.seen("t7") and not state.seen("t999")
    small = encode_state(state)
    assert b"t7" not in small  # the value written after every batch no longer carries them
    restored = decode_state(small)
    assert restored.archived_chunks == 1 and not restored.seen("t7")
    restored.seen_archive |= decode_seen_chunk(encode_seen_chunk(chunk))
    assert restored.seen("t7")
    state.seen_transfers = {f"u{i}" for i in range(256)}
    assert (state.archive_seen(256) or (None,))[0] == 1  # chunks are numbered in order


def test_chunk_keys_land_in_their_enterprise_partition_and_are_stable() -> None:
    from pipeline.state_codec import seen_chunk_key
    from pipeline.stream_batch import partition_of

    enterprise = "91110000600037341L"
    for partitions in (1, 4, 12):
        keys = [seen_chunk_key(enterprise, i, partitions) for i in range(20)]
        assert len(set(keys)) == 20
        owner = partition_of(enterprise, partitions)
        assert {partition_of(k.decode(), partitions) for k in keys} == {owner}
        assert keys == [seen_chunk_key(enterprise, i, partitions) for i in range(20)]


def test_cached_window_encodings_follow_every_change() -> None:
    # The codec caches each window's bytes and the windows' order: a stale cache would
    # persist a state that recovery then restores wrong.
    state = sample_state()
    first = decode_state(encode_state(state))
    de = ("DE", datetime(2025, 3, 3, 2, tzinfo=UTC))
    state.window(de).observe(5, 1, ["pi.health"])
    at = ("AT", datetime(2025, 3, 3, 9, tzinfo=UTC))  # sorts before every open window
    state.window(at).declare(7, ["pi.general"])
    again = decode_state(encode_state(state))
    assert again.windows[de].observed_bytes == first.windows[de].observed_bytes + 5
    assert "pi.health" in again.windows[de].observed_dlp
    assert next(iter(again.windows)) == at and again.windows[at].declared_bytes == 7
    state.close_window(de)
    closed = decode_state(encode_state(state))
    assert de not in closed.windows and at in closed.windows
    assert encode_state(closed) == encode_state(state)  # same bytes as a state never cached
    assert closed == state


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(["AT", "DE", "SG", "US"]),
            st.integers(min_value=0, max_value=30),
        ),
        max_size=80,
    )
)
def test_the_kept_window_order_is_the_sorted_order_after_any_opens_and_closes(
    steps: list[tuple[bool, str, int]],
) -> None:
    state = EnterpriseState()
    state.ordered_windows()  # the order is kept from here on, not re-sorted
    base = datetime(2025, 3, 3, tzinfo=UTC)
    for opening, country, hour in steps:
        key = (country, base + timedelta(hours=hour))
        if opening:
            state.window(key).observe(1, 1, [])
        elif key in state.windows:
            state.close_window(key)
    assert state.ordered_windows() == sorted(state.windows.items(), key=lambda item: item[0])
    assert encode_state(state) == encode_state(decode_state(encode_state(state)))
