"""Cyclic-GC settings for the long-running processes (worker, store writer)."""

from __future__ import annotations

import gc


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
