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
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from pipeline.kafka_admin import high_watermarks
from pipeline.topics import ALERT_ACTIONS, EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS

#: Topics the agents consume as streams (not changelogs, not global tables).
STREAM_INPUTS = frozenset(
    t.name for t in (TRANSFER_LOGS, FLOW_AGGREGATES, EGRESS_FLOWS, ALERT_ACTIONS)
)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        """Faust's worker consumer, with our fetch wait instead of its fixed 1.5 s."""
        consumer = super()._create_worker_consumer(transport)
        wait = cast(XbmonFaustApp, self.app).fetch_max_wait_ms
        if wait is not None:
            # Faust passes fetch_max_wait_ms=1500 with no setting to change it; aiokafka
            # hands this attribute to its fetcher when the consumer starts.
            consumer._fetch_max_wait_ms = int(wait)
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Also seek stream partitions without a committed offset (or at 0) to their start.

        After a rebalance Faust resumes the stream partitions, then seeks them to their
        committed offsets; aiokafka seeks only offsets > 0, so a partition never committed (or
        committed at 0) keeps whatever position its fetcher reached meanwhile, and the records
        fetched before Faust marked it active are dropped: the head of the partition was lost
        (tests/faults/test_scale_cycle.py, README "Known limits"). Seeking those to the start
        replays them instead (at-least-once; replays are deduplicated downstream).
        """
        committed = await super().seek_to_committed()
        restart = [
            tp for tp, offset in committed.items() if not offset and tp.topic in STREAM_INPUTS
        ]
        if restart:
            consumer = self._ensure_consumer()
            await self.call_thread(consumer.seek_to_beginning, *restart)
        return committed

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

    fetch_max_wait_ms: int | None = None  # for the worker consumer (None: Faust's 1.5 s)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
