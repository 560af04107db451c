from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import default_rules_config
from pipeline.replay import replay_records, sort_findings
from pipeline.rules.engine import Engine
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import EnterpriseState, ScoringProfile, WindowAggregate, YearCounters
from pipeline.state_codec import decode_state, encode_state

Entries = dict[str, bytes]


def stored(state: EnterpriseState, entries: Entries) -> bytes:
    """Encode as the worker writes: changed day entries into `entries`, then the value."""
    encoded = encode_state(state)
    for day, entry in encoded.days.items():
        if entry is None:
            del entries[day]
        else:
            entries[day] = entry
    return encoded.value


def round_trip(state: EnterpriseState, entries: Entries | None = None) -> EnterpriseState:
    entries = {} if entries is None else entries
    return decode_state(stored(state, entries), entries.get)


def value(state: EnterpriseState) -> bytes:
    return encode_state(state).value


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
    assert round_trip(state) == state


def test_encoding_is_deterministic() -> None:
    a = sample_state()
    b = sample_state()
    b.seen_transfers = {"t1", "t2"}
    assert value(a) == value(b)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown enterprise state format"):
        decode_state(b'{"v": 99}', Entries().get)


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
    restored = {k: round_trip(v) for k, v in engine.states.items()}
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
    small = value(state)
    assert b"t7" not in small  # the value written after every batch no longer carries them
    restored = decode_state(small, Entries().get)
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
    first = round_trip(state)
    de = ("DE", datetime(2025, 3, 3, 2, tzinfo=UTC))
    state.window(de).observe(5, 1, ["pi.health"])
    at = ("AT", datetime(2025, 3, 3, 9, tzinfo=UTC))  # sorts before every open window
    state.window(at).declare(7, ["pi.general"])
    again = round_trip(state)
    assert again.windows[de].observed_bytes == first.windows[de].observed_bytes + 5
    assert "pi.health" in again.windows[de].observed_dlp
    assert next(iter(again.windows)) == at and again.windows[at].declared_bytes == 7
    state.close_window(de)
    closed = round_trip(state)
    assert de not in closed.windows and at in closed.windows
    assert value(closed) == value(state)  # same bytes as a state never cached
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
    assert value(state) == value(round_trip(state))


def alert_json(day: str, count: int = 1) -> str:
    """An alert as the supervisor keeps it; the codec reads only its day."""
    return orjson.dumps({"alert_id": f"a-{day}", "day": day, "count": count}).decode()


def finding(n: int, at: datetime) -> tuple[str, str, str, datetime]:
    return (f"f{n}", "R-THRESHOLD", "high", at)


def profiled() -> EnterpriseState:
    """Three days of alerts and findings (one alert's day differs from its findings')."""
    state = sample_state()
    day = datetime(2025, 3, 1, 10, tzinfo=UTC)
    state.profile = ScoringProfile(
        year=2025,
        logs=9,
        findings=[finding(n, day + timedelta(hours=9 * n)) for n in range(6)],
        resolved={"f1"},
        alerts={f"a{d}": alert_json(f"2025-03-0{d}") for d in (1, 2, 4)},
    )
    return state


def test_alerts_and_findings_travel_in_day_entries_and_come_back_exact() -> None:
    state, entries = profiled(), Entries()
    restored = decode_state(stored(state, entries), entries.get)
    assert restored == state and restored.profile.findings == state.profile.findings
    assert restored.profile.alerts == state.profile.alerts
    # findings of Mar 1-3 (UTC) and alerts of Mar 1, 2, 4: one entry a day, none in the value
    assert sorted(entries) == ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]
    assert b"R-THRESHOLD" not in value(state) and b"a-2025" not in value(state)
    assert orjson.loads(value(state))["profile"]["days"] == sorted(entries)


def test_only_the_days_that_changed_are_written_again() -> None:
    state = profiled()
    stored(state, {})
    assert encode_state(state).days == {}  # nothing changed: nothing but the value
    profile = state.profile
    profile.alerts["a2"] = alert_json("2025-03-02", count=2)  # bumped: a new JSON
    profile.findings.append(finding(9, datetime(2025, 3, 3, 23, tzinfo=UTC)))
    assert set(encode_state(state).days) == {"2025-03-02", "2025-03-03"}
    profile.alerts = {k: v for k, v in profile.alerts.items() if k != "a4"}  # pruned
    days = encode_state(state).days
    assert days == {"2025-03-04": None}  # the day has nothing left: its entry goes
    assert "2025-03-04" not in orjson.loads(value(state))["profile"]["days"]
    profile.findings = profile.findings[3:]  # f0, f1 (Mar 1) and f2 (Mar 2) pruned
    days = encode_state(state).days
    assert set(days) == {"2025-03-01", "2025-03-02"}
    assert orjson.loads(days["2025-03-01"] or b"")["findings"] == []  # its alert stays


def test_a_decoded_state_writes_only_what_changes_after_it() -> None:
    # The written days are known from the entries read: a recovered enterprise's next write
    # is one day, not its whole history.
    entries: Entries = {}
    restored = decode_state(stored(profiled(), entries), entries.get)
    assert encode_state(restored).days == {}
    restored.profile.alerts["a9"] = alert_json("2025-03-09")
    assert set(encode_state(restored).days) == {"2025-03-09"}


def test_a_missing_day_entry_loses_that_day_only() -> None:
    entries: Entries = {}
    raw = stored(profiled(), entries)
    del entries["2025-03-02"]
    restored = decode_state(raw, entries.get)  # the worker logs the missing entry
    assert "a2" not in restored.profile.alerts and "a1" in restored.profile.alerts
    assert [f[0] for f in restored.profile.findings] == ["f0", "f1", "f5"]
    assert "2025-03-02" not in orjson.loads(value(restored))["profile"]["days"]


def test_a_format_1_value_with_inline_alerts_and_findings_is_still_read() -> None:
    state = profiled()
    document = orjson.loads(value(state))
    document["v"] = 1
    profile = document["profile"]
    del profile["days"]
    profile["alerts"] = state.profile.alerts
    profile["findings"] = state.profile.findings
    old = orjson.dumps(document, option=orjson.OPT_UTC_Z)
    restored = decode_state(old, Entries().get)
    assert restored == state
    assert len(encode_state(restored).days) == 4  # the next write moves them into entries


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["alert", "finding", "late", "prune-alerts", "prune-findings", "write", "write"]
            ),
            st.integers(min_value=0, max_value=5),
        ),
        max_size=60,
    )
)
def test_the_entries_written_always_decode_to_the_state(steps: list[tuple[str, int]]) -> None:
    # Whatever changes between writes, the value and the changed entries written after it
    # give back the profile, and no entry outlives its day.
    state, entries = EnterpriseState(), Entries()
    profile, base = state.profile, datetime(2025, 3, 1, 20, tzinfo=UTC)
    for n, (step, day) in enumerate(steps):
        if step == "alert":
            count = orjson.loads(profile.alerts.get(f"a{day}", '{"count": 0}'))["count"] + 1
            profile.alerts[f"a{day}"] = alert_json(f"2025-03-0{day + 1}", count)
        elif step in ("finding", "late"):  # usually after the others (5 h a step), or anywhere
            at = base + timedelta(hours=5 * n if step == "finding" else 7 * day)
            profile.findings.append(finding(n, at))
            profile.findings.sort(key=lambda kept: kept[3])  # by ts, as record_findings keeps them
        elif step == "prune-alerts":
            profile.alerts = {k: v for k, v in profile.alerts.items() if int(k[1:]) > day}
        elif step == "prune-findings":
            profile.findings = profile.findings[day:]
        else:
            stored(state, entries)
    restored = decode_state(stored(state, entries), entries.get)
    assert restored.profile.alerts == profile.alerts
    assert restored.profile.findings == profile.findings
    assert sorted(entries) == orjson.loads(value(state))["profile"]["days"]
