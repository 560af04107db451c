"""Integration fixtures: a real Tansu broker and real worker processes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.embedded import Stack, wait_until
from pipeline.reference_stream import reference_messages
from pipeline.topics import FINDINGS

PARTITIONS = 4


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A broker and no workers yet; `stack.start(workers=N)` in the test."""
    with Stack(tmp_path / "stack", partitions=PARTITIONS, store=False) as running:
        yield running


def publish_reference(stack: Stack, records: list[Any]) -> None:
    before = stack.metric("xbmon_reference_updates_total")
    sent = stack.produce((t, k, v, None) for t, k, v in reference_messages(records))
    wait_until(
        lambda: stack.metric("xbmon_reference_updates_total") >= before + sent,
        30,
        "reference records to be applied",
    )


def findings_on_topic(stack: Stack) -> list[dict[str, Any]]:
    return [item for _, value in stack.read_topic(FINDINGS.name, 800) for item in orjson.loads(value)]


def wait_for_findings(stack: Stack, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        found[:] = findings_on_topic(stack)
        return len(found) >= count

    wait_until(enough, timeout, f"{count} findings", interval=0.3)
    return found
