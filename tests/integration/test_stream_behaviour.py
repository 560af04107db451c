"""The stream under real conditions: bad input, reference changes, restarts, event time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from stdnum.cn import uscc

from pipeline.embedded import Stack, wait_until
from pipeline.topics import ALERTS, DEADLETTER, SCORES, TRANSFER_LOGS
from schemas.models import Enterprise, Filing, TransferLog

pytestmark = pytest.mark.slow

E1 = "91110000600037341L"
T0 = datetime(2025, 3, 3, 2, tzinfo=UTC)


def enterprise() -> Enterprise:
    return Enterprise(
        enterprise_id=E1,
        name="Alpha",
        sector="other",
        region="beijing",
        is_ciio=False,
        egress_cidrs=[],  # type: ignore[arg-type]
    )


def filing(**over: Any) -> Filing:
    base = {
        "filing_id": "F-1",
        "enterprise_id": E1,
        "kind": "standard_contract",
        "status": "active",
        "valid_from": "2025-01-01T00:00:00Z",
    }
    return Filing.model_validate({**base, **over})


def log(transfer_id: str, ts: datetime, **over: Any) -> dict[str, Any]:
    base = {
        "transfer_id": transfer_id,
        "enterprise_id": E1,
        "ts": ts.isoformat(),
        "recipient": "Acme GmbH",
        "country": "DE",
        "categories": ["pi.general"],
        "subjects": 10,
        "sensitive_subjects": 1,
        "records": 10,
        "bytes": 1000,
        "purpose": "business",
        "legal_basis": "standard_contract",
        "filing_ref": "F-1",
    }
    record = {**base, **over}
    TransferLog.model_validate(record)  # the helper itself only builds valid records
    return record


def send_logs(stack: Stack, *records: dict[str, Any], key: bytes = E1.encode()) -> None:
    stack.produce([(TRANSFER_LOGS.name, key, orjson.dumps(list(records)), None)])


def evaluated(stack: Stack) -> float:
    return stack.metric("xbmon_events_total", topic=TRANSFER_LOGS.name)


def test_invalid_records_go_to_the_dead_letter_topic_and_the_rest_goes_on(stack: Stack) -> None:
    stack.start(workers=1)
    stack.publish_reference([enterprise(), filing()])
    good = log("ok-1", T0)
    oversized = log("big", T0, dst_hosts=["h" * 190] * 2000)  # > 256 KiB as one record
    bad_messages = [
        b"{not json",
        orjson.dumps({**log("x", T0), "subjects": "10"}),  # wrong type
        orjson.dumps({**log("x", T0), "colour": "red"}),  # unknown field
        orjson.dumps(log("x", T0) | {"enterprise_id": "91110000600037341A"}),  # bad USCC
        orjson.dumps([good, {**log("in-batch", T0), "country": "CN"}, log("ok-2", T0)]),
        orjson.dumps(oversized),
    ]
    stack.produce([(TRANSFER_LOGS.name, E1.encode(), m, None) for m in bad_messages])
    wait_until(lambda: evaluated(stack) >= 8, 30, "every record to be seen")

    letters = [orjson.loads(v) for _, v in stack.read_topic(DEADLETTER.name)]
    reasons = sorted(letter["reason"].split(":")[0] for letter in letters)
    assert reasons == ["colour", "country", "enterprise_id", "invalid JSON", "record", "subjects"]
    for letter in letters:
        assert letter["source_topic"] == TRANSFER_LOGS.name
        assert letter["offset"] >= 0 and letter["raw"]
    in_batch = next(x for x in letters if x["reason"].startswith("country"))
    assert in_batch["index"] == 1 and orjson.loads(in_batch["raw"])["transfer_id"] == "in-batch"
    assert stack.metric("xbmon_events_total", topic=TRANSFER_LOGS.name, outcome="evaluated") == 2
    assert all(w.alive for w in stack.workers)


def test_a_revoked_filing_changes_the_verdict_of_the_next_transfer(stack: Stack) -> None:
    stack.start(workers=1)
    stack.publish_reference([enterprise(), filing()])
    send_logs(stack, log("before", T0))
    wait_until(lambda: evaluated(stack) >= 1, 20, "the first transfer")
    assert stack.findings() == []

    stack.publish_reference([filing(status="revoked", revoked_at="2025-03-03T02:30:00Z")])
    send_logs(stack, log("after", T0 + timedelta(hours=1)))
    (finding,) = stack.wait_for_findings(1)
    assert (finding.rule_id, finding.transfer_id) == ("XB-FILING-REVOKED", "after")

    # The filing change also re-scored the enterprise (within the re-score interval), and the
    # critical finding became a paging alert.
    def scores() -> list[dict[str, Any]]:
        return [orjson.loads(v) for _, v in stack.read_topic(SCORES.name, 500)]

    wait_until(lambda: any(s["trigger"] == "filing" for s in scores()), 30, "a filing re-score")
    assert all(s["enterprise_id"] == E1 and s["tier"] in "ABCD" for s in scores())
    alerts = [orjson.loads(v) for _, v in stack.read_topic(ALERTS.name, 500)]
    assert [(a["rule_id"], a["severity"], a["route"]) for a in alerts] == [
        ("XB-FILING-REVOKED", "critical", "page")
    ]


def test_a_lone_batch_is_committed_once_its_state_write_is_due(stack: Stack) -> None:
    # Every touched enterprise is scored in its batch: no re-score timer writes the state,
    # only the state write due after `state_flush_interval_s`, then the offset commit.
    stack.extra_env["XBMON_SCORE_MIN_INTERVAL_S"] = "0"
    # No reference either: a filing would make a re-score (and a state write) due as well.
    stack.start(workers=1)
    send_logs(stack, log("a", T0))
    wait_until(lambda: evaluated(stack) >= 1, 20, "the transfer")
    wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 10, "its offset committed")


def test_a_stopping_worker_writes_the_pending_state_and_exits_by_itself(stack: Stack) -> None:
    # The state write is far from due, and no re-score timer writes it (see above): only
    # the stop does. Faust waits for every held event to be acked before the agents stop.
    stack.extra_env |= {"XBMON_SCORE_MIN_INTERVAL_S": "0", "XBMON_STATE_FLUSH_INTERVAL_S": "60"}
    stack.start(workers=1)
    send_logs(stack, log("a", T0))
    wait_until(lambda: evaluated(stack) >= 1, 20, "the transfer")
    assert stack.lag(TRANSFER_LOGS.name) == 1  # held: its state is not written yet
    [worker] = stack.live_workers()
    worker.stop()
    assert worker.process.returncode == 0, worker.log_tail()  # not killed after the timeout
    assert stack.lag(TRANSFER_LOGS.name) == 0


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_yearly_counts_survive_a_worker_restart(stack: Stack, how: str) -> None:
    # Every evaluated id goes to an archived chunk at once: the restart must recover those too.
    stack.extra_env["XBMON_SEEN_CHUNK_IDS"] = "1"
    stack.start(workers=1)
    stack.publish_reference([enterprise()])
    common = {"legal_basis": "exempt", "filing_ref": None, "sensitive_subjects": 0}
    send_logs(stack, log("a", T0, subjects=60_000, **common))
    wait_until(lambda: evaluated(stack) >= 1, 20, "the first transfer")
    first = stack.workers[0]
    # No batch follows: the state write (and then the offset commit) is due on a timer.
    wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 20, "the first transfer committed")
    time.sleep(1.0)  # the state changelog's producer flush
    first.kill() if how == "kill" else first.stop()
    stack.add_worker()
    stack.wait_ready()
    send_logs(stack, log("b", T0 + timedelta(hours=1), subjects=50_000, **common))
    found = stack.wait_for_findings(3)
    rules = sorted((f.rule_id, f.transfer_id) for f in found)
    # 60,000 + 50,000 reaches 100,000 only if the first transfer was remembered; the
    # transfer then needs a contract it declared as exempt.
    assert rules == [
        ("XB-DECLARED-BASIS-INVALID", "b"),
        ("XB-PATH-MISSING", "b"),
        ("XB-THRESHOLD-CROSSED", "b"),
    ]
    # A re-sent "a" (its id now only in an archived chunk) is recognised, not counted again.
    send_logs(stack, log("a", T0, subjects=60_000, **common))
    wait_until(
        lambda: (
            stack.metric("xbmon_events_total", topic=TRANSFER_LOGS.name, outcome="duplicate") >= 1
        ),
        20,
        "the re-sent transfer to be recognised",
    )
    assert len(stack.findings()) == 3


def test_alerts_survive_a_worker_restart_and_are_bumped_not_raised_again(stack: Stack) -> None:
    # The profile's alerts and findings are written in day entries of their own table, apart
    # from the state value: a restarted worker must read them back with the state.
    from agents.transfers import DAYS_TABLE

    stack.start(workers=1)
    stack.publish_reference([enterprise()])
    send_logs(stack, log("a", T0))  # cites a filing that was never made

    def alerts() -> list[dict[str, Any]]:
        return [orjson.loads(v) for _, v in stack.read_topic(ALERTS.name, 500)]

    wait_until(lambda: len(alerts()) >= 1, 20, "the first transfer's alert")
    raised = {a["alert_id"]: a for a in alerts()}
    assert {a["count"] for a in raised.values()} == {1}
    wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 20, "the first transfer committed")
    assert stack.metric("xbmon_state_bytes_written_total", table=DAYS_TABLE) > 0
    time.sleep(1.0)  # the changelogs' producer flush
    stack.workers[0].kill()
    stack.add_worker()
    stack.wait_ready()
    send_logs(stack, log("b", T0 + timedelta(hours=1)))  # the same rules, the same day
    wait_until(lambda: len(alerts()) >= 2 * len(raised), 20, "the second transfer's alerts")
    bumped = alerts()[len(raised) :]
    assert {a["alert_id"] for a in bumped} == set(raised)  # the same alerts, not new ones
    assert all(a["count"] == 2 for a in bumped)
    assert all(a["finding_ids"][0] in raised[a["alert_id"]]["finding_ids"] for a in bumped)


def test_windows_close_when_event_time_passes_the_grace_period(stack: Stack) -> None:
    from pipeline.topics import EGRESS_FLOWS

    stack.start(workers=1)
    stack.publish_reference([enterprise()])
    flow = {
        "flow_id": "f1",
        "probe_id": "p1",
        "ts_start": T0.isoformat(),
        "ts_end": (T0 + timedelta(seconds=30)).isoformat(),
        "src_ip": "203.0.113.9",
        "dst_ip": "198.51.100.7",
        "dst_port": 443,
        "protocol": "tcp",
        "bytes_out": 50_000_000,
        "bytes_in": 0,
        "packets": 100,
        "enterprise_id": E1,
        "dst_country": "DE",
    }
    stack.produce([(EGRESS_FLOWS.name, b"p1", orjson.dumps([flow]), None)])
    wait_until(lambda: stack.metric("xbmon_open_windows") == 1, 20, "the window to open")
    # Event time 23 h later: still inside the grace period.
    send_logs(
        stack,
        log(
            "later",
            T0 + timedelta(hours=23),
            filing_ref=None,
            legal_basis="exempt",
            sensitive_subjects=0,
        ),
    )
    wait_until(lambda: evaluated(stack) >= 1, 20, "the later transfer")
    assert stack.metric("xbmon_open_windows") >= 1
    assert stack.findings() == []
    # 25 h after the window's end: it closes, with an undeclared-egress finding at its start.
    send_logs(
        stack,
        log(
            "much-later",
            T0 + timedelta(hours=26),
            filing_ref=None,
            legal_basis="exempt",
            sensitive_subjects=0,
        ),
    )
    (finding,) = stack.wait_for_findings(1)
    assert finding.rule_id == "XB-UNDECLARED-EGRESS"
    assert finding.ts == datetime(2025, 3, 3, 2, tzinfo=UTC)


def test_the_daily_rescore_scores_every_enterprise_slice_by_slice(tmp_path: Path) -> None:
    ids = [f"9111000060003734{i}" for i in range(3)]
    ids = [base + uscc.calc_check_digit(base) for base in ids]
    env = {"XBMON_SCORE_DECAY_INTERVAL_S": "3", "XBMON_RESCORE_SLICE": "1"}
    with Stack(tmp_path / "stack", partitions=1, store=False, extra_env=env) as stack:
        stack.start(workers=1)
        stack.publish_reference(
            [enterprise().model_copy(update={"enterprise_id": e}) for e in ids]
            + [filing(filing_id=f"F-{e}", enterprise_id=e) for e in ids]
        )
        for index, e in enumerate(ids):
            send_logs(
                stack, log(f"t{index}", T0, enterprise_id=e, filing_ref=f"F-{e}"), key=e.encode()
            )
        wait_until(lambda: evaluated(stack) >= len(ids), 20, "one transfer each")

        def daily() -> set[str]:
            scores = [orjson.loads(v) for _, v in stack.read_topic(SCORES.name, 500)]
            return {s["enterprise_id"] for s in scores if s["trigger"] == "daily"}

        wait_until(lambda: daily() == set(ids), 30, "a daily score of each enterprise")
