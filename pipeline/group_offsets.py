"""Give a consumer group a committed offset on every partition before its first member joins.

Works around a loss seen with faust-streaming 0.15.3 on Tansu (README "Known limits"): a
partition whose first messages arrive while the group rebalances, and which the group has
never committed, can have those messages skipped by the next owner. A committed offset at
the partition's start (what `auto_offset_reset=earliest` would choose anyway) leaves no
partition in that state. Only partitions without a committed offset are touched.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition


def seed_group_offsets(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """Commit the earliest offset for each uncommitted partition; return how many per topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    seeded: dict[str, int] = {}
    try:
        for topic in topics:
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            tps = [TopicPartition(topic, p) for p in partitions]
            missing = [tp for tp in tps if consumer.committed(tp) is None]
            if missing:
                starts = consumer.beginning_offsets(missing)
                consumer.commit({tp: OffsetAndMetadata(starts[tp], "", -1) for tp in missing})
            seeded[topic] = len(missing)
    finally:
        consumer.close(autocommit=False)
    return seeded
