"""Scenario: poison messages at 10 % of the traffic.

Setup: a real broker, one `xbmon worker` and the store writer (chDB); a synthetic world's
transfer logs in messages of 5 records, with one message in ten replaced by poison: invalid
JSON, a wrong schema (a string where a count goes) and two 10 MB payloads
(Tansu accepts them; Apache Kafka's default 1 MB limit would refuse them at the producer).
What must hold: every poison message is on the dead-letter topic with its reason and its raw
bytes: exactly the bytes sent, except the 10 MB ones, which keep their first 64 KiB and name
their size and SHA-256 in the reason (a 10 MB dead letter would exceed the producer's limit);
the valid traffic's findings are exactly the offline replay's; the worker stays up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from pipeline.embedded import Stack, all_partitions, wait_until
from pipeline.flow_aggregates import watermark_message
from pipeline.replay import replay_records
from pipeline.stream_replay import END_OF_TIME, log_messages
from pipeline.synth import synthesize
from pipeline.topics import DEADLETTER, FLOW_AGGREGATES, TRANSFER_LOGS
from pipeline.wire import DEADLETTER_RAW_MAX_BYTES
from schemas.models import TransferLog

pytestmark = pytest.mark.slow
PARTITIONS = 2


def poison(kind: int, log: TransferLog) -> bytes:
    """Invalid JSON, a wrong type in a real log, or a 10 MB record (every fifth)."""
    if kind % 5 == 4:
        return orjson.dumps({**log.model_dump(mode="json"), "note": "x" * (10 << 20)})
    if kind % 2 == 0:
        return b'[{"transfer_id": "broken", ' + log.enterprise_id.encode()
    return orjson.dumps({**log.model_dump(mode="json"), "subjects": "ten"})


def test_poison_goes_to_the_dead_letter_topic_and_valid_traffic_is_unaffected(
    tmp_path: Path,
) -> None:
    world = synthesize(enterprises=10, days=2, seed=5)
    expected = {
        f.finding_id
        for f in replay_records(world.enterprises, world.filings, world.negative_list, world.logs)
    }
    earliest: dict[str, TransferLog] = {}  # each enterprise's first log: what poison mimics
    for log in sorted(world.logs, key=lambda log: (log.ts, log.transfer_id)):
        earliest.setdefault(log.enterprise_id, log)
    messages: list[tuple[bytes, bytes]] = []
    sent_poison: list[bytes] = []
    for _, key, value, _ in log_messages(world.logs, 5):
        if len(messages) % 10 == 9:
            bad = poison(len(sent_poison), earliest[key.decode()])
            sent_poison.append(bad)
            messages.append((key, bad))
        messages.append((key, value))
    assert sum(len(v) > DEADLETTER_RAW_MAX_BYTES for v in sent_poison) == 2

    with Stack(
        tmp_path / "stack",
        partitions=PARTITIONS,
        extra_env={"XBMON_WINDOWS_CLOSE": "end_of_input"},
    ) as stack:
        stack.start(workers=1)
        stack.publish_reference([*world.enterprises, *world.filings, *world.negative_list])
        producer = KafkaProducer(
            bootstrap_servers=stack.bootstrap, acks="all", max_request_size=16 << 20
        )
        for key, value in messages:
            producer.send(TRANSFER_LOGS.name, key=key, value=value)
        producer.flush()
        producer.close()
        wait_until(lambda: stack.lag(TRANSFER_LOGS.name) == 0, 90, "every message committed")
        stack.produce(
            all_partitions(FLOW_AGGREGATES.name, PARTITIONS, watermark_message(END_OF_TIME))
        )
        wait_until(lambda: {f.finding_id for f in stack.findings()} >= expected, 60, "the findings")
        letters = [orjson.loads(v) for _, v in stack.read_topic(DEADLETTER.name)]
        assert all(w.alive for w in stack.workers)
        found = {f.finding_id for f in stack.findings()}

    assert found == expected, "poison changed nothing in the valid traffic's findings"
    assert len(letters) == len(sent_poison), "one dead letter per poison message, no more"
    by_raw = {letter["raw"].encode(): letter for letter in letters}
    for bad in sent_poison:
        if len(bad) <= DEADLETTER_RAW_MAX_BYTES:
            letter = by_raw[bad]  # the exact bytes sent
            assert letter["reason"].startswith(("invalid JSON", "subjects:"))
        else:
            letter = by_raw[bad[:DEADLETTER_RAW_MAX_BYTES]]
            assert f"of {len(bad)} bytes" in letter["reason"]
            assert hashlib.sha256(bad).hexdigest() in letter["reason"]
        assert letter["source_topic"] == TRANSFER_LOGS.name and letter["offset"] >= 0
