"""Evidence-row messages: what travels on `evidence.rows`, and how a poll's are coalesced.

A message is a JSON header line, then the rows as one JSON array (format 2):

    {"table": "transfers", "token": "...", "count": 3, "produced_ms": [...]}\\n[{...},{...},{...}]

The store writer never decodes the rows: it concatenates the arrays of one table and hands
them to ClickHouse as JSONEachRow, whose parser is cheaper than building Python dicts and
then Arrow columns from them (offline, polls shaped like the live writer's: 37-39 -> 28-30
µs of CPU a transfer log; README, ninth round). The header is all it reads.

Every insert into chDB costs about 25 ms whatever its size (a new part, the deduplication
log), so the messages of one poll are merged per table into one insert. Its deduplication
token is derived from the member tokens, so the same messages merged the same way are
stored once; a redelivery cut differently is caught by the tables' ReplacingMergeTree on
deterministic ids.

Format 1 (one JSON object with a `rows` list), written before, is still read: a spool
written by an older writer drains after an upgrade.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

#: Rows per merged insert (the store chunks larger inserts anyway).
MAX_MERGED_ROWS = 50_000


@dataclass
class RowsMessage:
    """The rows of one table with their deduplication token (one message, or a merge)."""

    table: str
    token: str
    body: bytes  # the rows: one JSON array of objects, as the worker encoded it
    count: int  # rows in `body`
    produced_ms: list[int] | None = None  # aligned with the rows; None or 0: unknown
    members: list[str] | None = None  # the tokens a merged message stands for
    # The messages merged (not encoded): a merge the store refuses is retried one by one,
    # so one bad message does not take the rest of its poll with it.
    parts: list[RowsMessage] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def decode(cls, value: bytes) -> RowsMessage:
        """ValueError if `value` is not an evidence-rows message (the rows are not parsed)."""
        head, newline, body = value.partition(b"\n")
        try:
            header = orjson.loads(head)
            table, token = header["table"], header["token"]
            if newline:
                count = header["count"]
            else:  # format 1: the rows inside the object
                rows = header["rows"]
                if not isinstance(rows, list):
                    raise TypeError("rows is not a list")
                body, count = orjson.dumps(rows), len(rows)
            produced, members = header.get("produced_ms"), header.get("members")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"unreadable evidence message: {exc!r}") from exc
        if not isinstance(table, str) or not isinstance(token, str):
            raise ValueError("unreadable evidence message: table or token of a wrong type")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("unreadable evidence message: count is not a row count")
        if not (body.startswith(b"[") and body.endswith(b"]")):
            raise ValueError("unreadable evidence message: the rows are not a JSON array")
        return cls(table, token, body, count, produced, members)

    def encode(self) -> bytes:
        header: dict[str, Any] = {"table": self.table, "token": self.token, "count": self.count}
        if self.members is not None:
            header["members"] = self.members
        if self.produced_ms is not None:
            header["produced_ms"] = self.produced_ms
        return orjson.dumps(header) + b"\n" + self.body

    def rows(self) -> list[dict[str, Any]]:
        """The rows decoded (audits and tests; the writer inserts `body` as it is)."""
        rows: list[dict[str, Any]] = orjson.loads(self.body)
        return rows


def encode_message(
    table: str, token: str, body: bytes, count: int, produced_ms: list[int] | None = None
) -> bytes:
    """One message of `count` rows already encoded as the JSON array `body`."""
    return RowsMessage(table, token, body, count, produced_ms or None).encode()


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
        if group and held[table] + message.count > max_rows:
            out.append(_merge(table, group))
            group = groups[table] = []
            held[table] = 0
        group.append(message)
        held[table] = held.get(table, 0) + message.count
    out.extend(_merge(table, group) for table, group in groups.items())
    return out


def _merge(table: str, group: list[RowsMessage]) -> RowsMessage:
    if len(group) == 1:
        return group[0]  # alone: the message as it came, token and all
    tokens = "\n".join(m.token for m in group)
    return RowsMessage(
        table=table,
        token="merged:" + hashlib.sha256(tokens.encode()).hexdigest(),
        body=concatenate([m.body for m in group]),
        count=sum(m.count for m in group),
        produced_ms=[p for m in group for p in (m.produced_ms or [0] * m.count)],
        members=[m.token for m in group],  # what was merged, for audits and tests
        parts=group,
    )


def concatenate(arrays: Sequence[bytes]) -> bytes:
    """JSON arrays joined into one, without parsing them (each is `[...]`)."""
    inner = (array[1:-1] for array in arrays)
    return b"[" + b",".join(part for part in inner if part.strip()) + b"]"
