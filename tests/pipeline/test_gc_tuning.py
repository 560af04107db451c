"""The worker's collections between batches: which generation, when, and what they free."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram

from pipeline.gc_tuning import collect_between_batches, observe_collections


@pytest.fixture
def quiet_gc() -> Iterator[None]:
    """No automatic collection during the test; the thresholds and state restored after."""
    saved, enabled = gc.get_threshold(), gc.isenabled()
    gc.disable()
    gc.collect()  # every generation's count back to zero
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        if enabled:
            gc.enable()


def test_between_batches_the_generation_cpython_would_collect(quiet_gc: None) -> None:
    gc.set_threshold(1_000_000_000, 2, 3)  # middle every 2 young, everything every 3 middle
    before = [stats["collections"] for stats in gc.get_stats()]
    generations = [collect_between_batches(0) for _ in range(12)]
    assert generations == [0, 0, 1, 0, 0, 1, 0, 0, 1, 2, 0, 0]
    after = [stats["collections"] for stats in gc.get_stats()]
    assert [a - b for a, b in zip(after, before, strict=True)] == [8, 3, 1]


def test_a_cycle_a_batch_left_is_freed_between_batches(quiet_gc: None) -> None:
    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first  # refcounting alone never frees these
    alive = weakref.ref(first)
    del first, second
    assert alive() is not None
    collect_between_batches(0)
    assert alive() is None


def test_nothing_is_collected_until_enough_objects_were_kept(quiet_gc: None) -> None:
    before = [stats["collections"] for stats in gc.get_stats()]
    kept = [[n] for n in range(1_000)]  # a thousand more tracked objects
    assert collect_between_batches(5_000) is None
    assert [stats["collections"] for stats in gc.get_stats()] == before
    kept += [[n] for n in range(5_000)]
    assert collect_between_batches(5_000) == 0
    assert gc.get_stats()[0]["collections"] == before[0] + 1


def test_every_collection_is_timed_by_generation() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("gc_seconds", "pauses", ["generation"], registry=registry)
    ticks = iter([10.0, 10.25])
    callback = observe_collections(histogram, clock=lambda: next(ticks))
    try:
        gc.collect(1)
    finally:
        gc.callbacks.remove(callback)
    assert registry.get_sample_value("gc_seconds_sum", {"generation": "1"}) == pytest.approx(0.25)
    assert registry.get_sample_value("gc_seconds_count", {"generation": "1"}) == 1


def test_the_worker_collects_between_batches_or_as_the_store_writer(quiet_gc: None) -> None:
    from pipeline.gc_tuning import after_batch, tune_worker_gc
    from pipeline.settings import Settings

    try:
        tune_worker_gc(Settings(gc_backstop_threshold=900_000))
        assert gc.get_threshold()[0] == 900_000  # a batch's allocations stay below it
        before = gc.get_stats()[0]["collections"]
        kept = [[n] for n in range(200)]  # more tracked objects than the threshold below
        after_batch(Settings(gc_threshold=100))
        kept += [[n] for n in range(200)]
        after_batch(Settings(gc_threshold=100, gc_between_batches=False))  # left to CPython
        assert gc.get_stats()[0]["collections"] == before + 1 and len(kept) == 400
        tune_worker_gc(Settings(gc_between_batches=False, gc_threshold=4321))
        assert gc.get_threshold()[0] == 4321
    finally:
        gc.unfreeze()
