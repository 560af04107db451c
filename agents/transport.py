"""A Faust transport whose changelog recovery knows where each partition really ends.

Faust recovers tables up to the end offsets from ListOffsets(LATEST). Some Kafka-protocol
brokers (Tansu 0.6, measured: see `pipeline.kafka_admin.high_watermarks`) answer with the base
offset of the partition's last record batch + 1, so recovery stops short and a restarted or
failed-over worker silently loses the tail of its state. Here the end offset is the larger of
ListOffsets and the high watermark carried by a Fetch response, which is exact on every broker
(on Apache Kafka both agree and nothing changes).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from pipeline.kafka_admin import high_watermarks


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        listed = dict(await super()._highwaters(partitions))
        transport: Any = self.transport
        bootstrap = ",".join(faust_aiokafka.server_list(transport.url, transport.default_port))
        by_topic: dict[str, list[TP]] = defaultdict(list)
        for tp in partitions:
            by_topic[tp.topic].append(tp)
        loop = asyncio.get_running_loop()
        for topic, tps in by_topic.items():
            fetched = await loop.run_in_executor(None, high_watermarks, bootstrap, topic)
            for tp in tps:
                listed[tp] = max(listed.get(tp, 0), fetched.get(tp.partition, 0))
        return listed


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class XbmonFaustApp(faust.App):
    """`faust.App` with the exact-recovery transport."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
