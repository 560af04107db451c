"""The transfer agent: logs and attributed flow aggregates of the enterprises it owns.

Thin on purpose: raw events in, `WorkerContext.process_transfers`, then publish findings and
dead letters, write evidence, persist the touched enterprises' state. Nothing escapes the loop:
a batch that fails on a bug goes whole to the dead-letter topic, never silently acknowledged.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from agents.events import to_messages
from agents.output import Output
from pipeline import metrics
from pipeline.state_codec import decode_state, encode_state
from pipeline.topics import FLOW_AGGREGATES, TRANSFER_LOGS
from pipeline.worker import WorkerContext

log = logging.getLogger(__name__)

STATE_TABLE = "enterprise-state"


def register_transfer_agent(app: faust.App, ctx: WorkerContext, output: Output) -> Any:
    settings = ctx.settings
    state = app.Table(
        STATE_TABLE,
        partitions=settings.kafka.partitions,
        use_partitioner=True,  # written from a take() batch; keyed like the source topics
        key_type=bytes,
        value_type=bytes,
    )

    def load(enterprise_id: str) -> Any:
        raw = state.get(enterprise_id.encode())
        return decode_state(raw) if raw is not None else None

    ctx.use_state_loader(load)

    @state.on_recover
    async def _reload() -> None:
        # Reassigned partitions: the recovered table is the truth; reload lazily from it, and
        # eagerly for enterprises with open windows so they still close on the watermark.
        ctx.forget_states()
        for key, raw in list(state.items()):
            decoded = decode_state(raw)
            if decoded.windows:
                ctx.engine.states[key.decode()] = decoded
        owned = [tp for tp in app.consumer.assignment() if tp.topic == TRANSFER_LOGS.name]
        metrics.ASSIGNED_PARTITIONS.set(len(owned))
        metrics.WORKER_READY.set(1)

    channel = app.topic(
        TRANSFER_LOGS.name, FLOW_AGGREGATES.name, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(channel, name="xbmon.transfers", concurrency=1)
    async def transfers(stream: Any) -> None:
        async for events in stream.take_events(
            settings.batch_max_messages, within=settings.batch_within_s
        ):
            messages = to_messages(events)
            try:
                out = ctx.process_transfers(messages)
                await output.publish(out.findings, out.deadletters)
                await output.store(out, messages)
                for enterprise_id in out.touched:
                    held = ctx.engine.states.get(enterprise_id)
                    if held is not None:
                        state[enterprise_id.encode()] = encode_state(held)
            except Exception as exc:  # a bug, not data: keep every message of the batch
                log.exception("transfer batch failed; dead-lettering %d messages", len(messages))
                await output.dead_letter_batch(messages, exc)

    return transfers
