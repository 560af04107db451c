"""Evidence-row messages of a poll become one insert per table, losing and reordering nothing."""

from __future__ import annotations

import orjson

from pipeline.row_batches import coalesce
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


def test_messages_merge_per_table_with_rows_in_order_and_timestamps_aligned() -> None:
    merged = {orjson.loads(m)["table"]: orjson.loads(m) for m in coalesce(_messages())}
    assert set(merged) == {"transfers", "findings"}
    transfers = merged["transfers"]
    assert [r["id"] for r in transfers["rows"]] == [f"{b}-{i}" for b in range(3) for i in range(4)]
    assert transfers["produced_ms"] == [b * 10 + i for b in range(3) for i in range(4)]
    assert merged["findings"]["produced_ms"] == [0, 0, 0]  # no timestamps: unknown, not dropped


def test_the_merged_token_is_deterministic_and_differs_with_the_members() -> None:
    first, second = coalesce(_messages()), coalesce(_messages())
    assert first == second
    other = coalesce(_messages()[:-2])
    assert orjson.loads(other[0])["token"] != orjson.loads(first[0])["token"]


def test_the_row_cap_splits_groups_and_unreadable_messages_pass_through() -> None:
    merged = coalesce([b"not json", *_messages()], max_rows=5)
    assert merged[0] == b"not json"
    tables = [orjson.loads(m) for m in merged[1:]]
    assert all(len(t["rows"]) <= 5 for t in tables)
    rows = [r["id"] for t in tables if t["table"] == "transfers" for r in t["rows"]]
    assert rows == [f"{b}-{i}" for b in range(3) for i in range(4)]


def test_a_single_message_keeps_its_own_token() -> None:
    (only,) = row_messages("alerts", [{"id": "a"}], "alerts|x")
    assert coalesce([only]) == [only]
