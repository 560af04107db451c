"""Evidence rows travel to the store writer in messages the broker accepts, nothing lost."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.row_batches import RowsMessage
from pipeline.store_writer import row_chunks, row_messages
from pipeline.wire import MAX_MESSAGE_BYTES, json_arrays


def test_large_rows_are_cut_by_size_and_keep_order_tokens_and_timestamps() -> None:
    rows = [{"finding_id": f"f{i}", "bundle": "x" * 100_000} for i in range(30)]
    messages = list(row_messages("findings", rows, "findings|t", list(range(30))))
    decoded = [RowsMessage.decode(m) for m in messages]
    assert len(messages) > 1
    assert all(len(m) < MAX_MESSAGE_BYTES + 200_000 for m in messages)  # under the 1 MB default
    assert [r for d in decoded for r in d.rows()] == rows
    assert all(d.count == len(d.rows()) for d in decoded)
    assert [p for d in decoded for p in d.produced_ms or []] == list(range(30))
    assert [d.token for d in decoded] == [f"findings|t#{i}" for i in range(len(messages))]
    assert {d.table for d in decoded} == {"findings"}


def test_small_rows_share_one_message_and_no_rows_no_message() -> None:
    rows = [{"transfer_id": f"t{i}"} for i in range(50)]
    (only,) = row_messages("transfers", rows, "tok")
    header, body = only.split(b"\n", 1)  # a header line, then the rows as one JSON array
    assert orjson.loads(header) == {"table": "transfers", "token": "tok#0", "count": 50}
    assert orjson.loads(body) == rows
    assert list(row_messages("transfers", [], "tok")) == []


def test_findings_arrays_are_cut_by_size_without_losing_any() -> None:
    values = [orjson.dumps({"finding_id": f"f{i}", "x": "y" * 50_000}) for i in range(40)]
    arrays = list(json_arrays(values))
    assert len(arrays) > 1 and all(len(a) < MAX_MESSAGE_BYTES + 60_000 for a in arrays)
    assert [v for a in arrays for v in orjson.loads(a)] == [orjson.loads(v) for v in values]
    assert list(json_arrays([])) == []


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3_000), max_size=300),
    max_bytes=st.integers(min_value=50, max_value=20_000),
    max_rows=st.integers(min_value=1, max_value=50),
)
def test_row_chunks_cover_every_row_in_order_within_both_bounds(
    sizes: list[int], max_bytes: int, max_rows: int
) -> None:
    rows = [{"i": i, "pad": "x" * size} for i, size in enumerate(sizes)]
    chunks = list(row_chunks(rows, max_bytes, max_rows))
    ends = [0, *(end for _, end, _ in chunks)]
    assert [start for start, _, _ in chunks] == ends[:-1], "consecutive ranges"
    assert ends[-1] == len(rows)
    for start, end, body in chunks:
        assert orjson.loads(body) == rows[start:end]
        assert end - start <= max_rows
        assert len(body) <= max_bytes or end - start == 1  # only a lone row may be larger


def test_a_batch_that_fits_is_encoded_once_as_one_message() -> None:
    rows = [{"transfer_id": f"t{i}"} for i in range(10)]
    assert list(row_chunks(rows)) == [(0, 10, orjson.dumps(rows))]
