"""Seeking back after a gathering touches only the partitions the writer still owns."""

from __future__ import annotations

from typing import Any

from kafka.structs import TopicPartition

from pipeline.store_writer import StoreWriter


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class Consumer:
    """What `_rewind` uses of KafkaConsumer; seeking an unassigned partition raises, as there."""

    def __init__(self, owned: set[TopicPartition]) -> None:
        self.owned = owned
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.owned:
            raise AssertionError(f"seek on unassigned {tp}")  # kafka-python: IllegalStateError
        self.seeks.append((tp, offset))


def test_a_partition_lost_to_a_rebalance_mid_gathering_is_not_sought() -> None:
    kept, lost = TopicPartition("evidence.rows", 0), TopicPartition("evidence.rows", 1)
    writer: Any = StoreWriter.__new__(StoreWriter)  # no broker: only the consumer is used
    writer.consumer = Consumer({kept})
    writer._rewind({kept: [Record(7), Record(8)], lost: [Record(3)]})
    assert writer.consumer.seeks == [(kept, 7)]
