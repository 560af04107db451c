"""Reference data as global tables over the compacted reference topics.

Every worker reads all of each topic (recovery at start, then as a standby for updates) and
applies each record to its `ReferenceIndex`, so a changed filing reaches every worker within
seconds without a restart. The loader (`xbmon reference load`) is the only writer.
"""

from __future__ import annotations

from typing import Any

import faust

from pipeline.topics import REFERENCE_ENTERPRISES, REFERENCE_FILINGS, REFERENCE_NEGATIVE_LIST
from pipeline.worker import WorkerContext


class ReferenceTable(faust.GlobalTable):
    """A global table whose changelog is an existing topic written by someone else.

    Faust's assignor names a table's changelog `{app}-{table}-changelog` regardless of the
    `changelog_topic` given; the reference topics have fixed names, so report the real one.
    """

    def _changelog_topic_name(self) -> str:
        return str(self.changelog_topic.get_topic_name())


def register_reference_tables(app: faust.App, ctx: WorkerContext) -> list[Any]:
    tables: list[Any] = []
    for spec in (REFERENCE_ENTERPRISES, REFERENCE_FILINGS, REFERENCE_NEGATIVE_LIST):
        topic = app.topic(
            spec.name,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
            internal=False,
        )

        async def on_event(event: Any, name: str = spec.name) -> None:
            ctx.apply_reference(name, event.message.key, event.message.value)

        table = ReferenceTable(
            app,
            name=spec.name,
            changelog_topic=topic,
            on_changelog_event=on_event,
            key_type=bytes,
            value_type=bytes,
            partitions=spec.partitions,
            beacon=app.tables.beacon,
            standby_buffer_size=1,
            is_global=True,
            synchronize_all_active_partitions=True,
        )
        tables.append(app.tables.add(table))
    return tables
