"""Reference records on the compacted topics: keys, encoding, and applying them to an index.

The loader publishes with these keys; every worker's global tables replay the topics and call
`apply_reference` for each record, so a new or revoked filing reaches the engine in seconds.
A tombstone (no value) removes the record.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from pydantic import BaseModel

from pipeline.rules.reference import ReferenceIndex
from pipeline.topics import REFERENCE_ENTERPRISES, REFERENCE_FILINGS, REFERENCE_NEGATIVE_LIST
from schemas.models import Enterprise, Filing, NegativeListEntry

MODELS: dict[str, type[BaseModel]] = {
    REFERENCE_ENTERPRISES.name: Enterprise,
    REFERENCE_FILINGS.name: Filing,
    REFERENCE_NEGATIVE_LIST.name: NegativeListEntry,
}


def reference_key(record: BaseModel) -> bytes:
    if isinstance(record, Enterprise):
        return record.enterprise_id.encode()
    if isinstance(record, Filing):
        return record.filing_id.encode()
    if isinstance(record, NegativeListEntry):
        return orjson.dumps([record.list_id, record.item_id])
    raise TypeError(f"not a reference record: {type(record).__name__}")


def reference_topic(record: BaseModel) -> str:
    for topic, model in MODELS.items():
        if isinstance(record, model):
            return topic
    raise TypeError(f"not a reference record: {type(record).__name__}")


def reference_messages(records: Iterable[BaseModel]) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) for each record, ready to produce."""
    return [(reference_topic(r), reference_key(r), r.model_dump_json().encode()) for r in records]


def apply_reference(index: ReferenceIndex, topic: str, key: bytes, value: bytes | None) -> None:
    """Upsert (or, for a tombstone, remove) one reference record; raises ValueError if bad."""
    model = MODELS.get(topic)
    if model is None:
        raise ValueError(f"{topic} is not a reference topic")
    if value is None:
        _remove(index, topic, key)
        return
    record = model.model_validate(orjson.loads(value))
    if isinstance(record, Enterprise):
        index.upsert_enterprise(record)
    elif isinstance(record, Filing):
        index.upsert_filing(record)
    elif isinstance(record, NegativeListEntry):
        index.upsert_entry(record)


def _remove(index: ReferenceIndex, topic: str, key: bytes) -> None:
    if topic == REFERENCE_ENTERPRISES.name:
        index.remove_enterprise(key.decode())
    elif topic == REFERENCE_FILINGS.name:
        index.remove_filing(key.decode())
    else:
        list_id, item_id = orjson.loads(key)
        index.remove_entry(str(list_id), str(item_id))
