"""Faust events -> framework-free `Message`s (raw bytes; we decode, not Faust)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.stream_batch import Message


def to_messages(events: Sequence[Any]) -> list[Message]:
    messages = []
    for event in events:
        m = event.message
        timestamp = getattr(m, "timestamp", None)
        messages.append(
            Message(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                key=m.key,
                value=m.value,
                timestamp_ms=int(timestamp * 1000) if timestamp else None,
            )
        )
    return messages
