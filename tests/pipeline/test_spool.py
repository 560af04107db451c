"""The on-disk spool: FIFO, bounds, durability framing, recovery after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.spool import (
    Spool,
    SpoolCorruptError,
    SpoolFullError,
    decode_entry,
    encode_entry,
)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_framing_round_trips(records: list[bytes]) -> None:
    assert decode_entry(encode_entry(records)) == records


@settings(max_examples=200)
@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5), st.data())
def test_any_cut_or_flipped_byte_is_detected(records: list[bytes], data: st.DataObject) -> None:
    encoded = encode_entry(records)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(SpoolCorruptError):
        decode_entry(encoded[:cut])
    position = data.draw(st.integers(0, len(encoded) - 1))
    flipped = bytearray(encoded)
    flipped[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(SpoolCorruptError):
        decode_entry(bytes(flipped))


def test_fifo_across_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000, max_batches=10)
    first = spool.append([b"a", b"b"])
    spool.append([b"c"])
    reopened = Spool(tmp_path, max_bytes=10_000, max_batches=10)
    head = reopened.head()
    assert head is not None and head.sequence == first and head.records == [b"a", b"b"]
    reopened.remove(first)
    third = reopened.append([b"d"])
    assert third > first + 1, "sequence numbers keep growing after a reopen"
    again = Spool(tmp_path, max_bytes=10_000, max_batches=10)
    drained = []
    while (entry := again.head()) is not None:
        drained.append(entry.records)
        again.remove(entry.sequence)
    assert drained == [[b"c"], [b"d"]]
    assert again.batches == 0 and again.size_bytes == 0


def test_bounds_by_batches_and_bytes(tmp_path: Path) -> None:
    by_count = Spool(tmp_path / "n", max_bytes=10**6, max_batches=2)
    by_count.append([b"x"])
    by_count.append([b"y"])
    assert not by_count.fits([b"z"])
    with pytest.raises(SpoolFullError):
        by_count.append([b"z"])
    by_size = Spool(tmp_path / "b", max_bytes=200, max_batches=100)
    by_size.append([b"x" * 100])
    assert not by_size.fits([b"y" * 100])
    assert by_size.fits([b"y" * 10])
    # An empty spool takes one batch however large, or it could never hold it.
    huge = Spool(tmp_path / "h", max_bytes=10, max_batches=5)
    huge.append([b"z" * 1000])
    assert huge.size_bytes > huge.max_bytes and not huge.fits([b""])
    assert huge.below(1.0) is False
    huge.remove(1)
    assert huge.below(0.5)


def test_torn_write_is_discarded_and_corrupt_file_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000, max_batches=10)
    kept = spool.append([b"kept"])
    torn = encode_entry([b"torn"])
    (tmp_path / f"{kept + 1:020d}.tmp").write_bytes(torn[: len(torn) // 2])
    damaged = bytearray(encode_entry([b"damaged"]))
    damaged[-1] ^= 0xFF
    (tmp_path / f"{kept + 2:020d}.batch").write_bytes(bytes(damaged))

    reopened = Spool(tmp_path, max_bytes=10_000, max_batches=10)
    assert not list(tmp_path.glob("*.tmp"))
    assert [p.name for p in reopened.corrupt] == [f"{kept + 2:020d}.batch"]
    assert (tmp_path / "corrupt" / f"{kept + 2:020d}.batch").exists()
    head = reopened.head()
    assert head is not None and head.records == [b"kept"]
    assert reopened.batches == 1


def test_write_interrupted_midway_leaves_no_batch(tmp_path: Path) -> None:
    class Crash(Exception):
        pass

    def crash(path: Path) -> None:
        assert path.suffix == ".tmp" and path.stat().st_size > 0
        raise Crash

    spool = Spool(tmp_path, max_bytes=10_000, max_batches=10, on_write=crash)
    with pytest.raises(Crash):
        spool.append([b"half"])
    assert spool.batches == 0
    assert Spool(tmp_path, max_bytes=10_000, max_batches=10).head() is None
