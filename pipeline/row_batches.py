"""Evidence-row messages coalesced per table before they are inserted.

Every insert into chDB costs about 25 ms whatever its size (a new part, the deduplication
log), so one insert per message capped the store writer at some 40 messages a second. The
messages of one poll are merged per table into one insert. Its deduplication token is derived
from the member tokens, so the same messages merged the same way are stored once; a
redelivery cut differently is caught by the tables' ReplacingMergeTree on deterministic ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

#: Rows per merged insert (the store chunks larger inserts anyway).
MAX_MERGED_ROWS = 50_000


def coalesce(values: Sequence[bytes], max_rows: int = MAX_MERGED_ROWS) -> list[bytes]:
    """Messages of the same table merged, up to `max_rows` rows per merged message.

    An unreadable message is passed through as it is, for the caller to report.
    """
    out: list[bytes] = []
    groups: dict[str, list[tuple[dict[str, Any], bytes]]] = {}
    held: dict[str, int] = {}  # rows in each open group
    for value in values:
        try:
            message = orjson.loads(value)
            table, rows = str(message["table"]), message["rows"]
            if not isinstance(rows, list):
                raise TypeError("rows")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            out.append(value)
            continue
        group = groups.setdefault(table, [])
        if group and held[table] + len(rows) > max_rows:
            out.append(_merge(table, group))
            group = groups[table] = []
            held[table] = 0
        group.append((message, value))
        held[table] = held.get(table, 0) + len(rows)
    out.extend(_merge(table, group) for table, group in groups.items())
    return out


def _merge(table: str, group: list[tuple[dict[str, Any], bytes]]) -> bytes:
    if len(group) == 1:
        return group[0][1]  # alone: the message as it came, token and all
    messages = [message for message, _ in group]
    tokens = "\n".join(str(m["token"]) for m in messages)
    rows = [row for m in messages for row in m["rows"]]
    produced = [p for m in messages for p in (m.get("produced_ms") or [0] * len(m["rows"]))]
    return orjson.dumps(
        {
            "table": table,
            "token": "merged:" + hashlib.sha256(tokens.encode()).hexdigest(),
            "members": [m["token"] for m in messages],  # what was merged, for audits and tests
            "rows": rows,
            "produced_ms": produced,
        }
    )
