"""Integration fixtures: a real Tansu broker and real worker processes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.embedded import Stack

PARTITIONS = 4


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A broker and no workers yet; `stack.start(workers=N)` in the test."""
    with Stack(tmp_path / "stack", partitions=PARTITIONS, store=False) as running:
        yield running
