"""The transfer stream's batch logic, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from stdnum.cn import uscc

from pipeline.config import default_rules_config
from pipeline.flow_aggregates import EnterpriseFlows, Observed, packed_messages, watermark_message
from pipeline.rules.engine import Engine
from pipeline.rules.reference import ReferenceIndex
from pipeline.stream_batch import Message, TransferBatchProcessor, partition_of
from pipeline.wire import MAX_MESSAGE_BYTES

LOGS, AGGS = "transfer.logs", "egress.flows.attributed"
E1 = "91110000600037341L"
T0 = datetime(2025, 3, 3, 2, tzinfo=UTC)


def processor(partitions: int = 4, data_advances_watermark: bool = True) -> TransferBatchProcessor:
    engine = Engine(ReferenceIndex(), default_rules_config())
    return TransferBatchProcessor(
        engine, LOGS, AGGS, lambda _: None, "egress.flows", partitions, data_advances_watermark
    )


def log(transfer_id: str, ts: datetime = T0, **over: Any) -> dict[str, Any]:
    return {
        "transfer_id": transfer_id,
        "enterprise_id": E1,
        "ts": ts.isoformat(),
        "recipient": "Acme GmbH",
        "country": "DE",
        "categories": ["pi.general"],
        "subjects": 10,
        "sensitive_subjects": 0,
        "records": 1,
        "bytes": 100,
        "purpose": "business",
        "legal_basis": "exempt",
        **over,
    }


def msg(topic: str, value: bytes, offset: int = 0, key: str = E1) -> Message:
    return Message(topic, partition_of(key, 4), offset, key.encode(), value)


def observed(nbytes: int, start: datetime = T0, source: tuple[int, int] = (0, 0)) -> bytes:
    window = {("DE", start): Observed(nbytes, 1, set())}
    return EnterpriseFlows(units={source: window}, max_ts=start).encode()


def test_a_batch_with_bad_records_keeps_the_good_ones() -> None:
    p = processor()
    value = orjson.dumps([log("a"), {**log("b"), "subjects": -1}, log("c")])
    out = p.process([msg(LOGS, value), msg(LOGS, b"not json", 1)])
    assert [t.log.transfer_id for t in out.transfers] == ["a", "c"]
    assert [(d.rejected.index, d.rejected.reason.split(":")[0]) for d in out.deadletters] == [
        (1, "subjects"),
        (None, "invalid JSON"),
    ]
    assert out.counts[(LOGS, "evaluated")] == 2 and out.counts[(LOGS, "invalid")] == 2


def test_a_probe_message_is_counted_once_however_often_its_aggregate_comes() -> None:
    p = processor(data_advances_watermark=False)
    p.process([msg(AGGS, observed(20_000_000, source=(3, 41)), offset=7)])
    # Redelivered as is, and re-sent by a worker that took the probe partition over.
    out = p.process([msg(AGGS, observed(20_000_000, source=(3, 41)), offset=7)])
    out2 = p.process([msg(AGGS, observed(20_000_000, source=(3, 41)), offset=9)])
    assert out.counts[(AGGS, "duplicate")] == 1 and out2.counts[(AGGS, "duplicate")] == 1
    # A later probe message, and one from another probe partition, do count.
    p.process([msg(AGGS, observed(1, source=(3, 42)), offset=10)])
    p.process([msg(AGGS, observed(1, source=(0, 5)), offset=11)])
    window = p.engine.states[E1].windows[("DE", T0)]
    assert window.observed_bytes == 20_000_002


def test_watermark_closes_only_its_own_partition() -> None:
    p = processor(data_advances_watermark=False)
    p.process([msg(AGGS, observed(50_000_000), offset=1)])
    mine = partition_of(E1, 4)
    late = watermark_message(T0 + timedelta(days=3))
    out = p.process([Message(AGGS, (mine + 1) % 4, 0, None, late)])
    assert out.windows == []  # another partition's progress says nothing about E1's
    out = p.process([Message(AGGS, mine, 2, None, late)])
    assert [w.enterprise_id for w in out.windows] == [E1]
    assert [f.finding.rule_id for f in out.findings] == ["XB-UNDECLARED-EGRESS"]


def test_end_of_input_mode_ignores_data_time() -> None:
    p = processor(data_advances_watermark=False)
    p.process([msg(AGGS, observed(50_000_000), offset=1)])
    out = p.process([msg(LOGS, orjson.dumps(log("x", T0 + timedelta(days=5))), offset=1)])
    assert out.windows == []
    q = processor(data_advances_watermark=True)
    q.process([msg(AGGS, observed(50_000_000), offset=1)])
    out = q.process([msg(LOGS, orjson.dumps(log("x", T0 + timedelta(days=5))), offset=1)])
    # The flow's window closes; the log's own window is still within its grace period.
    assert [(w.country, w.start) for w in out.windows] == [("DE", T0)]


def test_alert_actions_carry_resolutions_and_bad_ones_are_dead_lettered() -> None:
    p = processor()
    action = orjson.dumps(
        {"alert_id": "a", "enterprise_id": E1, "status": "resolved", "finding_ids": ["f1"]}
    )
    out = p.process([msg("alert.actions", action), msg("alert.actions", b"{}", offset=1)])
    assert out.resolutions == [(E1, ["f1"])] and E1 in out.touched
    assert [d.rejected.reason.split(":")[0] for d in out.deadletters] == ["invalid alert action"]


def make_uscc(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


def test_a_partitions_shares_travel_packed_and_apply_as_if_sent_one_by_one() -> None:
    enterprises = [make_uscc(f"9111000060003{n:04d}") for n in range(40)]
    shares = {
        e: EnterpriseFlows(
            units={(0, n): {("DE", T0): Observed(1000 + n, 2, {"pi.contact"})}}, max_ts=T0
        )
        for n, e in enumerate(enterprises)
    }
    packed = list(packed_messages(shares, lambda e: partition_of(e, 4)))
    assert len(packed) == len({partition_of(e, 4) for e in enterprises})  # one per partition
    for partition, key, _ in packed:
        assert partition_of(key.decode(), 4) == partition
    one_by_one, together = processor(), processor()
    alone = [
        Message(AGGS, partition_of(e, 4), i, e.encode(), share.encode())
        for i, (e, share) in enumerate(sorted(shares.items()))
    ]
    out_alone = one_by_one.process(alone)
    out_packed = together.process(
        [Message(AGGS, p, i, key, value) for i, (p, key, value) in enumerate(packed)]
    )
    assert out_packed.counts == out_alone.counts  # counted per share either way
    assert out_packed.counts[(AGGS, "evaluated")] == 40
    assert out_packed.touched == set(enterprises)
    for e in enterprises:
        assert together.engine.states[e].windows == one_by_one.engine.states[e].windows
        assert together.engine.states[e].applied_offsets == {"egress.flows:0": enterprises.index(e)}
    assert together.watermarks == one_by_one.watermarks


def test_a_pack_is_cut_to_the_message_limit_and_a_bad_pack_is_a_dead_letter() -> None:
    big = {
        make_uscc(f"9111000060003{n:04d}"): EnterpriseFlows(
            units={
                (0, o): {("DE", T0 + timedelta(minutes=o)): Observed(1, 1, set())}
                for o in range(400)
            },
            max_ts=T0,
        )
        for n in range(30)
    }
    packed = list(packed_messages(big, lambda _: 0))
    one_share = max(len(share.encode(e)) for e, share in big.items())
    assert len(packed) > 1 and all(len(v) <= MAX_MESSAGE_BYTES + one_share for _, _, v in packed)
    assert sum(len(orjson.loads(v)) for _, _, v in packed) == 30
    p = processor()
    unnamed = orjson.dumps([orjson.loads(observed(5))])  # a pack must name each enterprise
    out = p.process([msg(AGGS, unnamed), msg(AGGS, b"[1]", 1)])
    assert [d.rejected.reason for d in out.deadletters] == [
        "invalid flow aggregate message: a packed share without enterprise_id",
        "invalid flow aggregate message: TypeError('not a JSON object')",
    ]
    assert out.counts[(AGGS, "invalid")] == 2 and E1 not in p.engine.states
