"""The Faust app is assembled explicitly: every agent and table is there, by name."""

from __future__ import annotations

from typing import Any

from agents.app import REGISTERED_AGENTS, create_app, registered_agents
from agents.transfers import DAYS_TABLE, SEEN_TABLE, STATE_TABLE
from pipeline.settings import Settings
from pipeline.topics import REFERENCE_ENTERPRISES, REFERENCE_FILINGS, REFERENCE_NEGATIVE_LIST


def test_every_agent_is_registered() -> None:
    built = create_app(Settings(kafka={"bootstrap_servers": "127.0.0.1:1"}))  # type: ignore[arg-type]
    assert registered_agents(built.app) == tuple(sorted(REGISTERED_AGENTS))


def test_reference_tables_follow_the_reference_topics() -> None:
    built = create_app(Settings())
    tables = {name: table for name, table in built.app.tables.items()}
    for spec in (REFERENCE_ENTERPRISES, REFERENCE_FILINGS, REFERENCE_NEGATIVE_LIST):
        table = tables[spec.name]
        assert table.is_global
        # The assignor must see the real topic name, not `<app>-<table>-changelog`.
        assert table._changelog_topic_name() == spec.name
    assert tables[STATE_TABLE].use_partitioner
    assert tables[SEEN_TABLE].use_partitioner  # chunk keys are salted to hash like their owner
    assert tables[DAYS_TABLE].use_partitioner  # so are day entries' keys


def test_the_worker_consumer_fetches_with_our_wait_not_fausts_fixed_one() -> None:
    # Tansu holds a fetch for its whole max wait; Faust fixes it at 1.5 s (latency floor).
    import asyncio

    async def created() -> Any:
        built = create_app(Settings(kafka={"fetch_max_wait_ms": 42}))  # type: ignore[arg-type]
        thread = built.app.consumer._new_consumer_thread()  # type: ignore[attr-defined]
        return thread._create_worker_consumer(built.app.transport)

    assert asyncio.run(created())._fetch_max_wait_ms == 42


def test_table_writes_do_not_throttle_a_batch_at_fausts_100_messages() -> None:
    built = create_app(Settings(producer_buffer_messages=1234))
    assert built.app.producer.buffer.max_messages == 1234


def test_the_worker_leaves_the_root_logger_at_its_level() -> None:
    # Faust's spinner set the root logger to DEBUG: every aiokafka debug call built a record.
    import logging

    from agents.worker import Worker

    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        worker = Worker(create_app(Settings()).app, loglevel="warning", quiet=True)
        worker._setup_logging()
        assert root.level == logging.WARNING
        assert not logging.getLogger("aiokafka.producer").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


def test_the_long_running_processes_collect_their_young_generation_less_often() -> None:
    import gc

    from pipeline.gc_tuning import tune_gc

    saved = gc.get_threshold()
    try:
        tune_gc(Settings(gc_threshold=1234).gc_threshold)
        assert gc.get_threshold()[0] == 1234
        assert gc.get_freeze_count() > 0  # what existed at start-up is out of every collection
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_the_producer_batches_many_states_per_partition_not_one_per_round_trip() -> None:
    # aiokafka keeps one batch pending per partition: at Faust's 16 KiB every state (tens of
    # KB) was a batch, each waiting for the round trip of the one before.
    settings = Settings(kafka={"producer_batch_bytes": 900_000})  # type: ignore[arg-type]
    producer: Any = create_app(settings).app.producer
    configured = producer._settings_default()
    assert configured["max_batch_size"] == 900_000
    assert configured["max_request_size"] == settings.kafka.producer_request_bytes
    assert Settings().kafka.producer_batch_bytes <= 1_048_588  # Kafka's message.max.bytes
