"""Gateway fixtures: a real Tansu broker with xbmon's topics, the app under a TestClient."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition

from pipeline.broker import LocalBroker
from pipeline.gateway.app import create_app
from pipeline.gateway.keys import KeyStore
from pipeline.kafka_admin import ensure_topics, high_watermarks
from pipeline.settings import GatewaySettings, Settings
from pipeline.topics import ALL_TOPICS, TRANSFER_LOGS
from pipeline.worker import utc_now

ENTERPRISE_A = "91110000600037341L"
ENTERPRISE_B = "91310000MA1FL0001R"
PARTITIONS = 2


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path_factory.mktemp("broker")) as running:
        ensure_topics(running.bootstrap_servers, ALL_TOPICS, PARTITIONS, 1)
        yield running


@pytest.fixture
def make_log() -> Callable[..., dict[str, Any]]:
    return transfer_log


@pytest.fixture
def read_topic_logs() -> Callable[[str], list[tuple[bytes, dict[str, Any]]]]:
    """Every transfer log in the topic of the broker at `bootstrap`."""
    return topic_records


@pytest.fixture
def read_logs(broker: LocalBroker) -> Callable[[], list[tuple[bytes, dict[str, Any]]]]:
    """Every transfer log now in the topic, with its message key."""
    return lambda: topic_records(broker.bootstrap_servers)


def transfer_log(enterprise_id: str = ENTERPRISE_A, **overrides: Any) -> dict[str, Any]:
    """A valid TransferLog as a client would send it (unique transfer_id)."""
    return {
        "transfer_id": f"t-{uuid.uuid4().hex}",
        "enterprise_id": enterprise_id,
        "ts": "2026-03-02T08:00:00+08:00",
        "recipient": "Globex Inc.",
        "country": "US",
        "categories": ["pi.general"],
        "subjects": 120,
        "sensitive_subjects": 0,
        "records": 120,
        "bytes": 48000,
        "purpose": "business",
        "legal_basis": "standard_contract",
        "filing_ref": None,
        "dst_hosts": ["data.globex"],
        **overrides,
    }


def gateway_settings(**overrides: Any) -> Settings:
    gateway = {"status_enabled": False, "produce_timeout_s": 3.0, **overrides}
    return Settings(gateway=GatewaySettings(**gateway))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def new_key(data_dir: Path) -> Callable[..., str]:
    """Create a key for an enterprise in the test's data directory; returns the token."""

    def create(enterprise_id: str = ENTERPRISE_A, **options: Any) -> str:
        store = KeyStore(data_dir)
        try:
            return store.create(enterprise_id, utc_now(), **options).token
        finally:
            store.close()

    return create


@pytest.fixture
def gateway(broker: LocalBroker, data_dir: Path) -> Callable[..., Any]:
    """`with gateway(**settings) as client:` a TestClient on a fresh app (lifespan run)."""

    @contextmanager
    def start(bootstrap: str | None = None, **overrides: Any) -> Iterator[TestClient]:
        app = create_app(
            gateway_settings(**overrides),
            bootstrap=bootstrap or broker.bootstrap_servers,
            data_dir=data_dir,
        )
        with TestClient(app) as client:
            yield client

    return start


def topic_records(
    bootstrap: str, topic: str = TRANSFER_LOGS.name
) -> list[tuple[bytes, dict[str, Any]]]:
    """(key, record) of every record of every message of `topic` (arrays unpacked)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    # Fetch's high watermark: Tansu's ListOffsets under-reports (../shared/NOTES.md).
    marks = high_watermarks(bootstrap, topic)
    ends = {tp: marks.get(tp.partition, 0) for tp in partitions}
    out: list[tuple[bytes, dict[str, Any]]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        consumer.position(tp) < ends[tp] for tp in partitions
    ):
        for _, messages in consumer.poll(timeout_ms=100).items():
            for message in messages:
                value = orjson.loads(message.value)
                out.extend(
                    (message.key, item) for item in (value if isinstance(value, list) else [value])
                )
    consumer.close()
    return out
