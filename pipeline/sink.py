"""The evidence sink: batch outputs -> store rows, idempotent, retried, never raising on data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipeline.settings import Settings
from pipeline.stream_batch import BatchOutput, Message


class EvidenceSink(Protocol):
    def write(self, out: BatchOutput, messages: Sequence[Message]) -> None: ...

    def close(self) -> None: ...


def open_sink(settings: Settings) -> EvidenceSink | None:
    """The evidence sink for this worker, or None when the store is disabled."""
    if not settings.store_enabled:
        return None
    return None  # TODO(storage): chDB / server sink
