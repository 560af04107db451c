"""Faust events -> framework-free `Message`s (raw bytes; we decode, not Faust)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import Histogram

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


def observe_ages(histogram: Histogram, messages: Sequence[Message]) -> None:
    """Each message's age now (since its broker timestamp), by topic, in seconds."""
    now_ms = time.time() * 1000
    for message in messages:
        if message.timestamp_ms:
            histogram.labels(message.topic).observe(max(0.0, now_ms - message.timestamp_ms) / 1000)
