"""Enterprise state <-> bytes, for changelog-backed tables (restart recovery).

Deterministic JSON (sorted sets) so the same state always encodes to the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any

import orjson

from pipeline.rules.state import (
    EnterpriseState,
    ScoringProfile,
    WindowAggregate,
    WindowKey,
    YearCounters,
)
from pipeline.stream_batch import partition_of
from schemas.types import format_datetime

FORMAT_VERSION = 1


def encode_state(state: EnterpriseState) -> bytes:
    years = {
        str(year): {
            "s": c.subjects,
            "z": c.sensitive,
            "sets": sorted([sorted(cats), amount] for cats, amount in c.category_sets.items()),
            "used": c.filing_used,
        }
        for year, c in state.years.items()
    }
    # One fragment of the windows' cached encodings (hundreds open under the 24 h grace).
    windows = orjson.Fragment(
        b"["
        + b",".join([w.encoded or _encode_window(key, w) for key, w in state.ordered_windows()])
        + b"]"
    )
    document = {
        "v": FORMAT_VERSION,
        "years": years,
        "seen": sorted(state.seen_transfers),
        "chunks": state.archived_chunks,
        "notified": sorted(state.expiring_notified),
        "windows": windows,
        "offsets": state.applied_offsets,
        "profile": _encode_profile(state.profile),
    }
    # OPT_UTC_Z: a UTC datetime comes out as `format_datetime` writes it (…Z).
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)


def _encode_window(key: WindowKey, w: WindowAggregate) -> bytes:
    """Encode a window and keep its bytes on it until it changes."""
    country, start = key
    w.encoded = orjson.dumps(
        [
            country,
            format_datetime(start),
            w.declared_bytes,
            w.declared_logs,
            sorted(w.declared_categories),
            w.observed_bytes,
            w.observed_flows,
            sorted(w.observed_dlp),
        ]
    )
    return w.encoded


def decode_state(data: bytes) -> EnterpriseState:
    document: dict[str, Any] = orjson.loads(data)
    if document.get("v") != FORMAT_VERSION:
        raise ValueError(f"unknown enterprise state format {document.get('v')!r}")
    state = EnterpriseState(
        seen_transfers=set(document["seen"]),
        archived_chunks=int(document.get("chunks", 0)),
        expiring_notified=set(document["notified"]),
        applied_offsets=dict(document.get("offsets", {})),
        profile=_decode_profile(document.get("profile")),
    )
    for year, c in document["years"].items():
        state.years[int(year)] = YearCounters(
            subjects=c["s"],
            sensitive=c["z"],
            category_sets={frozenset(cats): amount for cats, amount in c["sets"]},
            filing_used=dict(c["used"]),
        )
    for country, start, d_bytes, d_logs, d_cats, o_bytes, o_flows, o_dlp in document["windows"]:
        state.windows[(country, datetime.fromisoformat(start))] = WindowAggregate(
            declared_bytes=d_bytes,
            declared_logs=d_logs,
            declared_categories=set(d_cats),
            observed_bytes=o_bytes,
            observed_flows=o_flows,
            observed_dlp=set(o_dlp),
        )
    return state


def _encode_profile(p: ScoringProfile) -> dict[str, Any]:
    return {
        "year": p.year,
        "logs": p.logs,
        "late": p.late_logs,
        "important": p.important_transfers,
        "by_country": p.bytes_by_country,
        "declared": p.declared_bytes,
        "observed": p.observed_bytes,
        "since": format_datetime(p.monitored_since) if p.monitored_since else None,
        "findings": p.findings,  # (id, rule, severity, UTC ts): orjson writes them as is
        "score": p.score,
        "resolved": sorted(p.resolved),
        "alerts": p.alerts,
    }


def _decode_profile(d: dict[str, Any] | None) -> ScoringProfile:
    if d is None:
        return ScoringProfile()
    return ScoringProfile(
        year=d["year"],
        logs=d["logs"],
        late_logs=d["late"],
        important_transfers=d["important"],
        bytes_by_country=dict(d["by_country"]),
        declared_bytes=d["declared"],
        observed_bytes=d["observed"],
        monitored_since=datetime.fromisoformat(d["since"]) if d["since"] else None,
        findings=[(i, r, s, datetime.fromisoformat(ts)) for i, r, s, ts in d["findings"]],
        score=d["score"],
        resolved=set(d.get("resolved", [])),
        alerts=dict(d["alerts"]),
    )


def encode_seen_chunk(ids: set[str]) -> bytes:
    """An archived chunk of an enterprise's evaluated transfer_ids (written once)."""
    return orjson.dumps(sorted(ids))


def decode_seen_chunk(data: bytes) -> set[str]:
    return {str(i) for i in orjson.loads(data)}


def seen_chunk_key(enterprise_id: str, index: int, partitions: int) -> bytes:
    """Table key of an archived chunk, salted so it lands in the enterprise's own partition.

    The table is partitioned by key (murmur2, like the source topics); the worker that owns
    an enterprise must recover its chunks with its state, so the key must hash like the id.
    """
    target = partition_of(enterprise_id, partitions)
    for salt in count():
        key = f"{enterprise_id}#{index}#{salt}"
        if partition_of(key, partitions) == target:
            return key.encode()
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends
