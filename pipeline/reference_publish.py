"""`xbmon reference load`: validated reference files onto the compacted topics (kafka-python)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer
from pydantic import BaseModel

from pipeline.reference_files import load_negative_lists
from pipeline.reference_rows import reference_row_messages
from pipeline.reference_stream import reference_messages
from pipeline.replay import read_jsonl
from schemas.models import Enterprise, Filing, NegativeListEntry

REFERENCE_FILES: dict[str, type[BaseModel]] = {
    "enterprises.jsonl": Enterprise,
    "filings.jsonl": Filing,
    "negative_list.jsonl": NegativeListEntry,
}


def load_reference_files(
    directory: Path | None, shipped_negative_lists: bool = False
) -> tuple[list[BaseModel], list[str]]:
    """Valid records of the directory's reference files (each optional), and line errors."""
    records: list[BaseModel] = []
    errors: list[str] = []
    if directory is not None:
        for name, model in REFERENCE_FILES.items():
            path = directory / name
            if path.exists():
                records.extend(read_jsonl(path, model, errors))
    if shipped_negative_lists:
        records.extend(load_negative_lists())
    return records, errors


def publish_reference(
    records: list[BaseModel], bootstrap: str, idempotence: bool = False
) -> Counter[str]:
    """Produce every record keyed by its id (acks=all); returns records per topic.

    Enterprises and filings also go to the store writer as `enterprises` / `filings` rows
    (counted under `evidence.rows`), so the dashboards can join with the register.
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotence, linger_ms=5
    )
    published: Counter[str] = Counter()
    try:
        now = datetime.now(UTC)
        for topic, key, value in [
            *reference_messages(records),
            *reference_row_messages(records, now),
        ]:
            producer.send(topic, key=key, value=value)
            published[topic] += 1
        producer.flush()
    finally:
        producer.close(timeout=10)
    return published
