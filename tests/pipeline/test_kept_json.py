"""Kept JSON bytes hold about their own length, whatever orjson allocated for them."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import orjson

from pipeline.kept_json import dumps_kept, kept
from pipeline.rules.state import EnterpriseState
from pipeline.state_codec import encode_state

T = TypeVar("T")
HEADER = 64  # a bytes object's header and pymalloc's rounding


def allocated(make: Callable[[], T]) -> tuple[T, int]:
    """What `make` returns and the bytes still allocated for it once it has returned."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        made = make()
        return made, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_kept_bytes_equal_the_encoding_in_an_allocation_of_their_length() -> None:
    window = ["DE", "2025-03-03T02:00:00Z", 10, 1, ["pi.general"], 20, 2, []]
    numbers = list(range(3000))
    for value, made_size in (
        (window, allocated(lambda: dumps_kept(window))),
        (numbers, allocated(lambda: dumps_kept(numbers))),
    ):
        made, size = made_size
        assert made == orjson.dumps(value)
        assert size <= len(made) + HEADER


def test_kept_copies_an_encoding_orjson_oversized() -> None:
    encoded = orjson.dumps(["DE", 10])
    made, size = allocated(lambda: kept(encoded))
    assert made == encoded and made is not encoded
    assert size <= len(made) + HEADER


def test_what_the_worker_keeps_of_an_encoding_is_the_size_of_its_bytes() -> None:
    # orjson hands out its working buffer, 4 KiB and up (pipeline/kept_json.py): the cached
    # window encodings and the value Faust's memory store holds must not pin that much each.
    def windows(hours: int) -> EnterpriseState:
        state = EnterpriseState()
        start = datetime(2025, 3, 3, tzinfo=UTC)
        for hour in range(hours):
            state.window(("DE", start + timedelta(hours=hour))).observe(hour, 1, ["pi.general"])
        return state

    encode_state(windows(50))  # warm the codec's own caches (formatted instants)
    state = windows(50)
    encoded, size = allocated(lambda: encode_state(state))
    held = [encoded.value, *(w.encoded for w in state.windows.values() if w.encoded)]
    assert len(held) == 51
    assert size <= sum(len(b) + HEADER for b in held) + 4096  # the EncodedState, its dict
