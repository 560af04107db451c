"""Cyclic-GC settings for the long-running processes (worker, store writer)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from prometheus_client import Histogram

from pipeline.settings import Settings


def tune_gc(threshold: int) -> None:
    """Collect the young generation every `threshold` allocations; older ones as often, relatively.

    Both processes allocate millions of short-lived objects (decoded records, row dicts) next
    to a large long-lived heap, and at CPython's default (700) the collector rescans that
    heap over and over: a third of a worker's flow batch, half of the store writer's CPU.
    What exists at start-up (modules, the app) is frozen out of every later collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 100)


def tune_worker_gc(settings: Settings) -> None:
    """The worker's start: collections between batches, the allocation count a backstop
    (`gc_between_batches`), or as the store writer collects."""
    if settings.gc_between_batches:
        tune_gc(settings.gc_backstop_threshold)
    else:
        tune_gc(settings.gc_threshold)


def after_batch(settings: Settings) -> None:
    """What an agent calls once a batch is done and its output sent."""
    if settings.gc_between_batches:
        collect_between_batches(settings.gc_threshold)


def collect_between_batches(young_threshold: int) -> int | None:
    """Collect between batches, as CPython would have, had it waited for the batch to end.

    A collection walks every object of its generation. One triggered mid-batch by the
    allocation count walks the batch's own working set (decoded records, evidence rows, its
    findings), still alive, and again in the middle generation they were promoted to: in
    the worker ~2.5 s of pauses in a default bench, 15-370 ms each. Between batches that set
    is gone and only what the batch kept is walked. So the worker raises the automatic
    threshold out of a batch's reach (`tune_gc`, a backstop) and calls this after each
    batch: once `young_threshold` more objects are tracked than at the last collection, it
    collects the generation CPython's counts and thresholds name, as CPython would. (Per
    batch instead, at ~20 small batches a second, the middle collections came so often that
    what was in flight then, held in reference cycles, piled up in the oldest generation:
    +100 MB of RSS in a default bench.) Returns the generation collected, None for none.
    """
    young, young_runs, middle_runs = gc.get_count()
    if young < young_threshold:
        return None
    _, middle_every, full_every = gc.get_threshold()
    generation = 2 if middle_runs >= full_every else 1 if young_runs >= middle_every else 0
    gc.collect(generation)
    return generation


def observe_collections(
    histogram: Histogram, clock: Callable[[], float] = time.perf_counter
) -> Callable[[str, dict[str, int]], None]:
    """Time every collection of this process into `histogram`, by generation.

    Returns the callback installed (`gc.callbacks.remove` it to stop).
    """
    started: list[float] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(clock())
        elif started:
            histogram.labels(str(info["generation"])).observe(clock() - started.pop())

    gc.callbacks.append(callback)
    return callback
