"""Cost of one send to the embedded broker: Faust's `Topic.send` vs the app's producer.

Both end in the same aiokafka producer (acks=all); `Topic.send` first wraps the message in a
FutureMessage and runs Faust's codecs and sensors. The worker sends a message per enterprise
with findings, per score, per alert and per evidence chunk, about a hundred a paced batch:
`agents.output.Output.produce` uses the producer's own send. Prints µs a send (and with the
acks awaited), each way twice, alternating.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from tempfile import mkdtemp
from typing import Any

import faust
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from pipeline.broker import LocalBroker

SENDS = 5_000
TOPIC = "bench-sends"
VALUE = b"x" * 600  # about a finding's JSON


async def measure(bootstrap: str) -> None:
    app = faust.App(
        "bench-sends",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        producer_acks=-1,
    )
    topic = app.topic(TOPIC, key_serializer="raw", value_serializer="raw")
    producer = await app.maybe_start_producer()

    async def via_topic(key: bytes) -> Awaitable[Any]:
        return await topic.send(key=key, value=VALUE)

    async def via_producer(key: bytes) -> Awaitable[Any]:
        sent: Awaitable[Any] = await producer.send(TOPIC, key, VALUE, None, None, None)
        return sent

    ways: list[tuple[str, Callable[[bytes], Awaitable[Awaitable[Any]]]]] = [
        ("Topic.send      ", via_topic),
        ("producer.send   ", via_producer),
    ]
    for _ in range(2):
        for name, send in ways:
            acks = []
            began = time.perf_counter()
            for i in range(SENDS):
                acks.append(await send(f"enterprise-{i % 200}".encode()))
            sent = time.perf_counter() - began
            await asyncio.gather(*acks)
            acked = time.perf_counter() - began
            print(f"{name} {sent / SENDS * 1e6:6.1f} µs a send, {acked / SENDS * 1e6:6.1f} acked")
    await producer.stop()


def main() -> None:
    with LocalBroker(mkdtemp()) as broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        admin.create_topics([NewTopic(TOPIC, 4, 1)])
        admin.close()
        asyncio.run(measure(broker.bootstrap_servers))


if __name__ == "__main__":
    main()
