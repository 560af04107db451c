"""The evidence sink: batch outputs -> store rows, idempotent, retried, never raising on data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipeline.stream_batch import BatchOutput, Message


class EvidenceSink(Protocol):
    def write(self, out: BatchOutput, messages: Sequence[Message]) -> None: ...

    def close(self) -> None: ...
