"""Scores in the evidence store: the latest credit, risk and tier of enterprises."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.storage import EvidenceStore
from pipeline.storage.sql import load_query


def latest_scores(store: EvidenceStore, enterprise_id: str | None = None) -> list[dict[str, Any]]:
    """One row per enterprise, `contributions` decoded to a list of dicts."""
    rows = store.query(load_query("scores_latest"), {"enterprise_id": enterprise_id})
    for row in rows:
        row["contributions"] = orjson.loads(row["contributions"])
    return rows


def tier_register(store: EvidenceStore) -> list[tuple[str, str]]:
    """(enterprise_id, tier) of every scored enterprise: the spot-check draw's register."""
    return [(row["enterprise_id"], row["tier"]) for row in latest_scores(store)]
