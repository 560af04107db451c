"""kafka-python computes record-batch CRC32C in C (the `crc32c` package), not in Python."""

from __future__ import annotations

from kafka.record import util


def test_kafka_python_uses_the_native_crc32c() -> None:
    # Pure Python ran at ~11 MB/s: the store writer's consumer and every embedded producer
    # spent most of their CPU checksumming (the store writer lagged a backlog by 12-34 s).
    assert util._crc32c is not util.crc32c_py
    assert util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283  # the CRC-32C check value
