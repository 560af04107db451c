"""Faust events become plain messages, and their ages feed the wait histograms."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Histogram

from agents.events import observe_ages
from pipeline.stream_batch import Message


def test_observe_ages_records_each_timestamped_message_by_topic() -> None:
    registry = CollectorRegistry()
    ages = Histogram("ages_seconds", "test", ["topic"], buckets=(0.1, 1, 10), registry=registry)
    now_ms = int(time.time() * 1000)
    observe_ages(
        ages,
        [
            Message("logs", 0, 0, b"k", b"[]", now_ms - 2_000),  # two seconds old
            Message("logs", 0, 1, b"k", b"[]", now_ms + 60_000),  # a clock ahead: age 0
            Message("flows", 1, 0, b"k", b"[]", now_ms - 500),
            Message("flows", 1, 1, b"k", b"[]", None),  # no timestamp: not observed
        ],
    )

    def value(name: str, topic: str, le: str | None = None) -> float | None:
        labels = {"topic": topic} | ({"le": le} if le else {})
        return registry.get_sample_value(name, labels)

    assert value("ages_seconds_count", "logs") == 2
    assert value("ages_seconds_sum", "logs") == pytest.approx(2.0, abs=0.5)
    assert value("ages_seconds_bucket", "logs", "0.1") == 1  # the one from the future: 0
    assert value("ages_seconds_count", "flows") == 1
    assert value("ages_seconds_bucket", "flows", "1.0") == 1
    assert value("ages_seconds_bucket", "flows", "0.1") == 0
