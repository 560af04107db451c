"""Evidence-row messages, decoded once and coalesced per table before they are inserted.

Every insert into chDB costs about 25 ms whatever its size (a new part, the deduplication
log), so one insert per message capped the store writer at some 40 messages a second. The
messages of one poll are merged per table into one insert. Its deduplication token is derived
from the member tokens, so the same messages merged the same way are stored once; a
redelivery cut differently is caught by the tables' ReplacingMergeTree on deterministic ids.

A message is decoded once, merged as objects and inserted from them: it is encoded again only
if it must be spooled (decoding twice and re-encoding the merge was a fifth of the writer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

#: Rows per merged insert (the store chunks larger inserts anyway).
MAX_MERGED_ROWS = 50_000


@dataclass
class RowsMessage:
    """The rows of one table with their deduplication token (one message, or a merge)."""

    table: str
    token: str
    rows: list[dict[str, Any]]
    produced_ms: list[int] | None = None  # aligned with rows; None or 0: unknown
    members: list[str] | None = None  # the tokens a merged message stands for

    @classmethod
    def decode(cls, value: bytes) -> RowsMessage:
        """ValueError if `value` is not an evidence-rows message."""
        try:
            message = orjson.loads(value)
            table, token, rows = message["table"], message["token"], message["rows"]
            produced, members = message.get("produced_ms"), message.get("members")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"unreadable evidence message: {exc!r}") from exc
        if not isinstance(table, str) or not isinstance(token, str) or not isinstance(rows, list):
            raise ValueError("unreadable evidence message: table, token or rows of a wrong type")
        return cls(table, token, rows, produced, members)

    def encode(self) -> bytes:
        document: dict[str, Any] = {"table": self.table, "token": self.token}
        if self.members is not None:
            document["members"] = self.members
        document["rows"] = self.rows
        if self.produced_ms is not None:
            document["produced_ms"] = self.produced_ms
        return orjson.dumps(document)


def merge(values: Sequence[bytes], max_rows: int = MAX_MERGED_ROWS) -> list[RowsMessage | bytes]:
    """Messages of the same table merged, up to `max_rows` rows per merged message.

    An unreadable message is passed through as the bytes it is, for the caller to report.
    """
    out: list[RowsMessage | bytes] = []
    groups: dict[str, list[RowsMessage]] = {}
    held: dict[str, int] = {}  # rows in each open group
    for value in values:
        try:
            message = RowsMessage.decode(value)
        except ValueError:
            out.append(value)
            continue
        table = message.table
        group = groups.setdefault(table, [])
        if group and held[table] + len(message.rows) > max_rows:
            out.append(_merge(table, group))
            group = groups[table] = []
            held[table] = 0
        group.append(message)
        held[table] = held.get(table, 0) + len(message.rows)
    out.extend(_merge(table, group) for table, group in groups.items())
    return out


def _merge(table: str, group: list[RowsMessage]) -> RowsMessage:
    if len(group) == 1:
        return group[0]  # alone: the message as it came, token and all
    tokens = "\n".join(m.token for m in group)
    return RowsMessage(
        table=table,
        token="merged:" + hashlib.sha256(tokens.encode()).hexdigest(),
        rows=[row for m in group for row in m.rows],
        produced_ms=[p for m in group for p in (m.produced_ms or [0] * len(m.rows))],
        members=[m.token for m in group],  # what was merged, for audits and tests
    )
