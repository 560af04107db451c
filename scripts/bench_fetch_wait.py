"""Production -> consumption on the embedded broker, by the consumer's `fetch_max_wait_ms`.

Tansu holds a fetch for up to its max wait even when records are waiting, so the setting
(`XBMON_KAFKA__FETCH_MAX_WAIT_MS`, 100 ms; workers and store writer) is a floor under every
hop's latency, traded against fetch requests (broker CPU) when topics are quiet. One small
message every 5 ms, a plain aiokafka consumer per setting; prints p50 / p99 in ms.
Usage: `python scripts/bench_fetch_wait.py [WAIT_MS ...]` (default 100 20 5).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from tempfile import mkdtemp

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from pipeline.broker import LocalBroker

MESSAGES = 600
EVERY_S = 0.005


async def measure(bootstrap: str, wait_ms: int, topic: str) -> list[float]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, fetch_max_wait_ms=wait_ms, auto_offset_reset="latest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await consumer.start()
    await producer.start()

    async def produce() -> None:
        await asyncio.sleep(1.0)  # the consumer's first fetch is in place
        for _ in range(MESSAGES):
            await producer.send(topic, str(time.perf_counter()).encode())
            await asyncio.sleep(EVERY_S)

    sending = asyncio.create_task(produce())
    waits: list[float] = []
    deadline = time.perf_counter() + 1.0 + MESSAGES * EVERY_S * 3
    while len(waits) < MESSAGES and time.perf_counter() < deadline:
        fetched = await consumer.getmany(timeout_ms=200)
        now = time.perf_counter()
        waits.extend((now - float(m.value or b"0")) * 1e3 for ms in fetched.values() for m in ms)
    await sending
    await producer.stop()
    await consumer.stop()
    return sorted(waits)


def main() -> None:
    settings = [int(arg) for arg in sys.argv[1:]] or [100, 20, 5]
    with LocalBroker(Path(mkdtemp()) / "broker") as broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        admin.create_topics([NewTopic(f"fetch-wait-{w}", 1, 1) for w in settings])
        admin.close()
        for wait_ms in settings:
            waits = asyncio.run(measure(broker.bootstrap_servers, wait_ms, f"fetch-wait-{wait_ms}"))
            p50, p99 = waits[len(waits) // 2], waits[int(len(waits) * 0.99)]
            print(
                f"fetch_max_wait_ms {wait_ms:>4}: {len(waits)} messages,"
                f" p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )


if __name__ == "__main__":
    main()
