"""Seeding a consumer group's offsets: uncommitted partitions get their start, others stay."""

from __future__ import annotations

from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.structs import OffsetAndMetadata, TopicPartition

from pipeline.broker import LocalBroker
from pipeline.group_offsets import seed_group_offsets
from pipeline.kafka_admin import ensure_topics
from pipeline.topics import ALL_TOPICS, TRANSFER_LOGS


def test_seed_commits_only_uncommitted_partitions(tmp_path: Path) -> None:
    with LocalBroker(tmp_path / "broker") as broker:
        broker.start()
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, ALL_TOPICS, 4, 1)
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        for _ in range(5):
            producer.send(TRANSFER_LOGS.name, value=b"x", partition=1)
        producer.flush()
        producer.close()
        tps = [TopicPartition(TRANSFER_LOGS.name, p) for p in range(4)]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.alter_group_offsets("g", {tps[1]: OffsetAndMetadata(3, "", -1)})
            assert seed_group_offsets(bootstrap, "g", [TRANSFER_LOGS.name]) == {
                TRANSFER_LOGS.name: 3
            }
            committed = admin.list_group_offsets({"g": tps})["g"]
            assert [committed[tp].offset for tp in tps] == [0, 3, 0, 0]
            assert seed_group_offsets(bootstrap, "g", [TRANSFER_LOGS.name]) == {
                TRANSFER_LOGS.name: 0
            }
        finally:
            admin.close()
