"""The Faust app factory: one app, its tables and agents, registered explicitly.

No import side effects and no autodiscovery (a failing autodiscovered import only logs a
warning and silently drops an agent); `REGISTERED_AGENTS` is checked by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from agents.flows import register_flow_agent
from agents.monitor import register_monitor
from agents.output import Output
from agents.reference import register_reference_tables
from agents.transfers import register_transfer_agent
from agents.transport import XbmonFaustApp
from pipeline.settings import Settings
from pipeline.worker import WorkerContext

REGISTERED_AGENTS = ("xbmon.flows", "xbmon.transfers")


@dataclass
class XbmonApp:
    app: faust.App
    ctx: WorkerContext
    output: Output


def broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server]


def create_app(settings: Settings, ctx: WorkerContext | None = None) -> XbmonApp:
    kafka = settings.kafka
    app = XbmonFaustApp(
        settings.app_id,
        broker=broker_urls(kafka.bootstrap_servers),
        autodiscover=False,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_interval_s,
        broker_commit_interval=kafka.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_batch_size=kafka.producer_batch_bytes,
        producer_max_request_size=kafka.producer_request_bytes,
        stream_buffer_maxsize=settings.stream_buffer_messages,
        web_enabled=False,
        table_standby_replicas=0,
        datadir=str(settings.data_dir / "faust"),
    )
    app.fetch_max_wait_ms = kafka.fetch_max_wait_ms  # read by agents.transport
    # Table writes queue in Faust's producer buffer; past `max_messages` (100) every stream
    # waits for it to drain one acknowledged send at a time. A batch writes one state per
    # enterprise it touched (hundreds under load): at 100 the buffer throttled every batch.
    app.producer.buffer.max_messages = settings.producer_buffer_messages
    ctx = ctx or WorkerContext(settings)
    output = Output(app, ctx)
    register_reference_tables(app, ctx)
    register_transfer_agent(app, ctx, output)
    register_flow_agent(app, ctx, output)
    register_monitor(app)
    return XbmonApp(app=app, ctx=ctx, output=output)


def registered_agents(app: faust.App) -> tuple[str, ...]:
    return tuple(sorted(str(name) for name in app.agents))
