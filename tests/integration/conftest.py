"""Integration fixtures: a real Tansu broker and real worker processes per test."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.embedded import Stack

PARTITIONS = 4


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A broker and no workers yet; `stack.start(workers=N)` in the test."""
    with Stack(tmp_path / "stack", partitions=PARTITIONS, store=False) as running:
        yield running


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def interruptible() -> Callable[[], None]:
    """`preexec_fn` for a child the test stops with SIGINT (Ctrl-C): a shell without job
    control starts background jobs with SIGINT ignored, the child inherits that, and Python
    then installs no KeyboardInterrupt handler (a CI run so waited 90 s on `up`)."""
    return _restore_sigint
