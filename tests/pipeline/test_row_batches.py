"""Evidence-row messages of a poll become one insert per table, losing and reordering nothing.

The rows are merged as the JSON the workers encoded, never decoded by the writer: the tests
decode them (`rows()`) to check what ClickHouse will read.
"""

from __future__ import annotations

import orjson
import pytest

from pipeline.row_batches import RowsMessage, concatenate, merge
from pipeline.store_writer import row_messages


def _messages() -> list[bytes]:
    out: list[bytes] = []
    for batch in range(3):
        rows = [{"id": f"{batch}-{i}"} for i in range(4)]
        out += row_messages(
            "transfers", rows, f"transfers|b{batch}", [batch * 10 + i for i in range(4)]
        )
        out += row_messages("findings", [{"id": f"f{batch}"}], f"findings|b{batch}")
    return out


def _merged(values: list[bytes], max_rows: int = 50_000) -> list[RowsMessage]:
    out = merge(values, max_rows)
    assert all(isinstance(m, RowsMessage) for m in out)
    return [m for m in out if isinstance(m, RowsMessage)]


def test_messages_merge_per_table_with_rows_in_order_and_timestamps_aligned() -> None:
    merged = {m.table: m for m in _merged(_messages())}
    assert set(merged) == {"transfers", "findings"}
    transfers = merged["transfers"]
    assert [r["id"] for r in transfers.rows()] == [f"{b}-{i}" for b in range(3) for i in range(4)]
    assert transfers.count == 12
    assert transfers.produced_ms == [b * 10 + i for b in range(3) for i in range(4)]
    assert merged["findings"].produced_ms == [0, 0, 0]  # no timestamps: unknown, not dropped
    assert transfers.members == [f"transfers|b{b}#0" for b in range(3)]


def test_the_merged_token_is_deterministic_and_differs_with_the_members() -> None:
    first, second = _merged(_messages()), _merged(_messages())
    assert [m.token for m in first] == [m.token for m in second]
    assert all(m.token.startswith("merged:") for m in first)
    other = _merged(_messages()[:-2])
    assert other[0].token != first[0].token


def test_the_row_cap_splits_groups_and_unreadable_messages_pass_through() -> None:
    merged = merge([b"not json", *_messages()], max_rows=5)
    assert merged[0] == b"not json"
    tables = [m for m in merged[1:] if isinstance(m, RowsMessage)]
    assert len(tables) == len(merged) - 1
    assert all(t.count == len(t.rows()) <= 5 for t in tables)
    rows = [r["id"] for t in tables if t.table == "transfers" for r in t.rows()]
    assert rows == [f"{b}-{i}" for b in range(3) for i in range(4)]


def test_a_single_message_keeps_its_own_token_and_encodes_to_its_own_bytes() -> None:
    (only,) = row_messages("alerts", [{"id": "a"}], "alerts|x", [7])
    (message,) = _merged([only])
    assert (message.token, message.members) == ("alerts|x#0", None)
    assert message.encode() == only  # what is spooled is what was consumed


def test_a_merged_message_survives_the_spool_encoding() -> None:
    merged = _merged(_messages())
    assert [RowsMessage.decode(m.encode()) for m in merged] == merged


def test_a_format_1_message_is_still_read() -> None:
    """A spool written before the header-and-array format drains after an upgrade."""
    value = orjson.dumps(
        {"table": "findings", "token": "findings|t#0", "rows": [{"id": 1}], "produced_ms": [5]}
    )
    message = RowsMessage.decode(value)
    assert (message.table, message.token, message.count) == ("findings", "findings|t#0", 1)
    assert (message.rows(), message.produced_ms) == ([{"id": 1}], [5])
    assert RowsMessage.decode(message.encode()) == message


@pytest.mark.parametrize(
    "arrays",
    [[b"[]", b"[]"], [b'[{"a":1}]', b"[]", b'[{"a":2},{"a":3}]'], [b"[ ]", b'[{"a":"],["}]']],
)
def test_arrays_concatenate_without_being_parsed(arrays: list[bytes]) -> None:
    joined = concatenate(arrays)
    assert orjson.loads(joined) == [row for array in arrays for row in orjson.loads(array)]


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[1, 2]",
        b'{"table": "findings", "rows": []}',
        b'{"table": "findings", "token": "t", "rows": {"id": 1}}',
        b'{"table": 3, "token": "t", "rows": []}',
        b'{"table": "findings", "token": null, "rows": []}',
        b'{"table": "findings", "token": "t"}\n[]',  # no count
        b'{"table": "findings", "token": "t", "count": -1}\n[]',
        b'{"table": "findings", "token": "t", "count": 1}\n{"id": 1}',  # not an array
        b'{"table": "findings", "token": "t", "count": 1}\n',
    ],
)
def test_anything_but_an_evidence_rows_message_is_refused_with_a_reason(value: bytes) -> None:
    with pytest.raises(ValueError, match="unreadable evidence message"):
        RowsMessage.decode(value)
