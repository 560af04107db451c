"""Evidence rows of a batch: what each store table gets, and the batch's identity.

Every insert carries a deduplication token derived from the batch's offsets, so a batch
redelivered whole is stored once; ReplacingMergeTree on deterministic ids (and FINAL reads) is
the second line of defence when a redelivered batch is cut differently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from pipeline.alert_store import alert_row
from pipeline.storage import deadletter_row, finding_row, transfer_row, window_row
from pipeline.storage.base import encode_rows
from pipeline.stream_batch import BatchOutput, Message
from pipeline.supervision import ScoreEvent
from schemas.types import format_datetime


def batch_token(messages: Sequence[Message]) -> str:
    """Deterministic identity of a batch: its offset range per topic and partition."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    for m in messages:
        low, high = ranges.get((m.topic, m.partition), (m.offset, m.offset))
        ranges[(m.topic, m.partition)] = (min(low, m.offset), max(high, m.offset))
    return "|".join(f"{t}:{p}:{lo}-{hi}" for (t, p), (lo, hi) in sorted(ranges.items()))


def table_token(table: str, batch: str, rows: Sequence[dict[str, Any]]) -> str:
    """The deduplication token of a table's rows from one batch.

    A batch read from Kafka is identified by its offsets (`batch_token`); the output of a timer
    (re-scoring) has no offsets, and one fixed token would make ClickHouse drop every re-score
    after the first as a duplicate block, so its identity is its content.
    """
    if batch:
        return f"{table}|{batch}"
    return f"{table}|sha256:{hashlib.sha256(encode_rows(rows)).hexdigest()}"


def output_rows(out: BatchOutput, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The rows each table gets from one batch."""
    return {
        "transfers": [
            transfer_row(
                t.log,
                source_topic=t.source.topic,
                source_partition=t.source.partition,
                source_offset=t.source.offset,
                required_path=t.decision.path,
                ingested_at=now,
            )
            for t in out.transfers
            if t.decision is not None  # a repeated transfer_id keeps the first row
        ],
        "findings": [finding_row(f, inserted_at=now) for f in out.findings],
        "flow_windows": [
            window_row(w.enterprise_id, w.country, w.start, w.aggregate, closed_at=now)
            for w in out.windows
        ],
        "alerts": [alert_row(a) for a in out.alerts],
        "scores": [score_row(e) for e in out.scores],
        "deadletters": [
            deadletter_row(
                source_topic=d.source.topic,
                source_partition=d.source.partition,
                source_offset=d.source.offset,
                index_in_batch=-1 if d.rejected.index is None else d.rejected.index,
                reason=d.rejected.reason,
                raw=d.rejected.raw,
                received_at=now,
            )
            for d in out.deadletters
        ],
    }


def produced_ms(out: BatchOutput) -> dict[str, list[int]]:
    """When each transfers/findings row's record was produced, aligned with `output_rows`.

    A transfer's finding takes its transfer's time; a window's finding the newest record of
    the batch (the one whose event time closed the window). 0: unknown.
    """
    by_transfer = {t.log.transfer_id: t.source.timestamp_ms or 0 for t in out.transfers}
    newest = max((t.source.timestamp_ms or 0 for t in out.transfers), default=0)
    return {
        "transfers": [t.source.timestamp_ms or 0 for t in out.transfers if t.decision is not None],
        "findings": [
            by_transfer.get(f.finding.transfer_id or "", newest) or newest for f in out.findings
        ],
    }


def score_row(event: ScoreEvent) -> dict[str, Any]:
    """A `scores` history row, with the contributions that explain it."""
    return {
        "enterprise_id": event.enterprise_id,
        "computed_at": format_datetime(event.computed_at),
        "credit": event.score.credit,
        "risk": event.score.risk,
        "tier": event.score.tier,
        "previous_tier": event.previous_tier,
        "trigger": event.trigger,
        "contributions": orjson.dumps([c.model_dump() for c in event.score.contributions]).decode(),
        "config_version": event.score.config_version,
    }
