"""What the producer's batch size costs when the broker is a network round trip away.

A worker writes one state per enterprise a batch touched (~60 KB each after a day of
traffic) and aiokafka keeps one batch pending per partition and one request in flight per
broker: with batches smaller than a state, every state waits for the round trip of the one
before it in its partition. This sends a batch's worth of states (200 of 57 KB over 4
partitions, acks=all) to a real Tansu broker behind `LatencyProxy` (half the round trip
each way), at Faust's default batch size and at the workers' setting, and prints
the median time until all are acknowledged.

    python scripts/bench_producer.py [round_trip_ms]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.broker import LocalBroker, free_port
from pipeline.latency_proxy import LatencyProxy
from pipeline.settings import KafkaSettings

FAUST_DEFAULT_BATCH = 16_384
STATES, STATE_BYTES, PARTITIONS, ROUNDS = 200, 57_000, 4, 5


async def acked_in(bootstrap: str, batch_bytes: int) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_batch_size=batch_bytes,
        max_request_size=KafkaSettings().producer_request_bytes,
    )
    await producer.start()
    value = os.urandom(STATE_BYTES)
    times = []
    try:
        for _ in range(ROUNDS):
            began = time.perf_counter()
            pending = [
                await producer.send("states", value, key=b"e%d" % i, partition=i % PARTITIONS)
                for i in range(STATES)
            ]
            await asyncio.gather(*pending)
            times.append(time.perf_counter() - began)
    finally:
        await producer.stop()
    return sorted(times)[len(times) // 2]


def main() -> None:
    round_trip_ms = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    broker_port = free_port()
    proxy = LatencyProxy(broker_port, round_trip_ms).start()
    with LocalBroker(tempfile.mkdtemp(), port=broker_port, advertised_port=proxy.port) as broker:
        bootstrap = broker.bootstrap_servers
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic("states", PARTITIONS, 1)])
        admin.close()
        for batch in (FAUST_DEFAULT_BATCH, KafkaSettings().producer_batch_bytes) * 2:
            seconds = asyncio.run(acked_in(bootstrap, batch))
            print(
                f"round trip {round_trip_ms:g} ms, batch {batch:>9,} B: {STATES} states of "
                f"{STATE_BYTES:,} B acked in {seconds * 1000:,.0f} ms (median of {ROUNDS})"
            )
    proxy.stop()


if __name__ == "__main__":
    main()
