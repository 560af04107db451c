"""A synthesised world in chDB, filled the way the stream fills it, shared by a module's tests.

chDB runs one engine per process on one directory: the store joins whatever session this
pytest process already has open (another module's) or opens a temporary one, and works in a
database of its own that is dropped afterwards. Module scope: the session is closed when the
module ends, so later modules can open chDB on their own directories.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from dashboards.macros import TimeRange
from pipeline.storage import chdb_store
from pipeline.storage.chdb_store import ChdbStore
from pipeline.synth import World, synthesize
from pipeline.world_store import store_world

RETENTION = 3 * 366


@dataclass(frozen=True)
class StoredWorld:
    store: ChdbStore
    world: World
    period: TimeRange  # covers every record of the world and what the worker wrote


@pytest.fixture(scope="module")
def stored_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoredWorld]:
    world = synthesize(enterprises=60, days=6, seed=11)
    active = chdb_store.active_path()
    data_dir = active.parent if active is not None else tmp_path_factory.mktemp("chdb-dash")
    store = ChdbStore(data_dir, f"xbmon_dash_{uuid.uuid4().hex[:10]}", RETENTION)
    try:
        store.ensure_schema()
        store_world(store, world)
        first = min(log.ts for log in world.logs)
        last = max(log.ts for log in world.logs)
        start = first.replace(hour=0, minute=0, second=0, microsecond=0)
        period = TimeRange(start, last + timedelta(days=4), timedelta(hours=6))
        yield StoredWorld(store, world, period)
    finally:
        store.query("DROP DATABASE IF EXISTS {database:Identifier}")
        store.close()


def day(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)
