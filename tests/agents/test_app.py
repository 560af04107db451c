"""The Faust app is assembled explicitly: every agent and table is there, by name."""

from __future__ import annotations

from typing import Any

from agents.app import REGISTERED_AGENTS, create_app, registered_agents
from agents.transfers import SEEN_TABLE, STATE_TABLE
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


def test_the_worker_consumer_fetches_with_our_wait_not_fausts_fixed_one() -> None:
    # Tansu holds a fetch for its whole max wait; Faust fixes it at 1.5 s (latency floor).
    import asyncio

    async def created() -> Any:
        built = create_app(Settings(kafka={"fetch_max_wait_ms": 42}))  # type: ignore[arg-type]
        thread = built.app.consumer._new_consumer_thread()  # type: ignore[attr-defined]
        return thread._create_worker_consumer(built.app.transport)

    assert asyncio.run(created())._fetch_max_wait_ms == 42
