"""The flow agent: attribute probe flows and re-key them, pre-aggregated, by enterprise."""

from __future__ import annotations

import logging
from typing import Any

import faust

from agents.events import observe_ages, to_messages
from agents.output import Output
from pipeline import metrics
from pipeline.flow_aggregates import packed_messages
from pipeline.gc_tuning import after_batch
from pipeline.stream_batch import partition_of
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES
from pipeline.worker import WorkerContext

log = logging.getLogger(__name__)


def register_flow_agent(app: faust.App, ctx: WorkerContext, output: Output) -> Any:
    settings = ctx.settings
    partitions = settings.kafka.partitions
    source = app.topic(EGRESS_FLOWS.name, key_serializer="raw", value_serializer="raw")

    @app.agent(source, name="xbmon.flows", concurrency=1)
    async def flows(stream: Any) -> None:
        async for events in stream.take_events(
            settings.batch_max_messages, within=settings.batch_within_s
        ):
            messages = to_messages(events)
            observe_ages(metrics.TAKE_AGE, messages)
            metrics.BATCH_SIZE.labels("flows").observe(len(messages))
            try:
                with metrics.BATCH_STAGE_SECONDS.labels("flows", "evaluate").time():
                    by_enterprise, dead = ctx.process_flows(messages)
                with metrics.BATCH_STAGE_SECONDS.labels("flows", "publish").time():
                    for partition, key, value in packed_messages(
                        by_enterprise, lambda enterprise_id: partition_of(enterprise_id, partitions)
                    ):
                        await output.produce(FLOW_AGGREGATES.name, key, value, partition)
                    await output.publish([], dead)
                metrics.AGGREGATES_SENT.inc(len(by_enterprise))
                output.observe_latency(messages)
            except Exception as exc:
                log.exception("flow batch failed; dead-lettering %d messages", len(messages))
                await output.dead_letter_batch(messages, exc)
            after_batch(settings)  # collects: the batch's working set is gone now

    return flows
