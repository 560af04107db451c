"""Periodic gauges a worker can only read from its consumer: per-topic consumer lag."""

from __future__ import annotations

import contextlib
from collections import Counter

import faust

from pipeline import metrics
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS

INPUT_TOPICS = (TRANSFER_LOGS.name, EGRESS_FLOWS.name, FLOW_AGGREGATES.name)
INTERVAL_S = 5.0


def register_monitor(app: faust.App) -> None:
    async def consumer_lag() -> None:
        # The high watermark comes from Fetch responses (right on every broker); the position
        # is where this worker will read next.
        lag: Counter[str] = Counter()
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic not in INPUT_TOPICS:
                continue
            with contextlib.suppress(Exception):  # a partition being reassigned: skip it
                position = await consumer.position(tp)
                if position is not None:
                    lag[tp.topic] += max(0, consumer.highwater(tp) - position)
        for topic in INPUT_TOPICS:
            metrics.CONSUMER_LAG.labels(topic).set(lag[topic])

    app.timer(INTERVAL_S)(consumer_lag)
