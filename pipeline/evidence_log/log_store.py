"""The evidence log's two tables, read and written through the store interface."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.evidence_log.leaves import StoredFinding, UnsealedFinding
from pipeline.evidence_log.signing import TreeHead
from pipeline.storage import EvidenceStore, StoreError
from pipeline.storage.sql import format_datetime_utc, load_query

_NO_LIMIT = 2**64 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Leaf:
    leaf_index: int
    finding_id: str
    leaf_hash: bytes
    appended_at: datetime


def _leaf(row: dict[str, Any]) -> Leaf:
    try:
        digest = bytes.fromhex(str(row["leaf_hash"]))
    except ValueError:
        digest = b""  # not a hash: every check of this leaf fails on its length
    return Leaf(
        leaf_index=int(row["leaf_index"]),
        finding_id=str(row["finding_id"]),
        leaf_hash=digest,
        appended_at=row["appended_at"],
    )


def _head(row: dict[str, Any]) -> TreeHead:
    try:
        return TreeHead(
            tree_size=int(row["tree_size"]),
            root_hash=bytes.fromhex(str(row["root_hash"])),
            timestamp=row["timestamp"],
            origin=str(row["origin"]),
            key_id=str(row["key_id"]),
            signature=base64.b64decode(str(row["signature"]), validate=True),
            frontier=tuple(bytes.fromhex(h) for h in row["frontier"]),
        )
    except ValueError as exc:
        raise StoreError(f"tree head {row['tree_size']} is malformed in the store: {exc}") from exc


def fetch_leaves(store: EvidenceStore, first: int = 0, until: int = _NO_LIMIT) -> list[Leaf]:
    """Every stored leaf row with first <= leaf_index < until, by index (duplicates kept)."""
    rows = store.query(load_query("evidence_leaves"), {"first": first, "until": until})
    return [_leaf(r) for r in rows]


def fetch_leaves_of(store: EvidenceStore, finding_id: str) -> list[Leaf]:
    return [_leaf(r) for r in store.query(load_query("evidence_leaf"), {"finding_id": finding_id})]


def fetch_heads(store: EvidenceStore) -> list[TreeHead]:
    """Every stored tree head, smallest tree first."""
    rows = store.query(load_query("tree_heads"), {"latest": 0})
    return [_head(r) for r in reversed(rows)]


def fetch_latest_head(store: EvidenceStore) -> TreeHead | None:
    rows = store.query(load_query("tree_heads"), {"latest": 1})
    return _head(rows[0]) if rows else None


def fetch_unsealed(
    store: EvidenceStore, limit: int | None = None, since: datetime | None = None
) -> list[UnsealedFinding]:
    """Stored findings that are not leaves yet, in append order; `since`: inserted from then."""
    parameters = {"limit": _NO_LIMIT if limit is None else limit, "since": since or _EPOCH}
    rows = store.query(load_query("evidence_unsealed"), parameters)
    return [UnsealedFinding.from_row(r) for r in rows]


def fetch_stored_findings(
    store: EvidenceStore, finding_ids: Sequence[str] = ()
) -> list[StoredFinding]:
    """Stored findings (one row per id, the newest) with their bundle text, unchecked."""
    parameters = {
        "enterprise_id": None,
        "rule_id": None,
        "finding_ids": list(finding_ids),
        "since": None,
        "until": None,
        "limit": _NO_LIMIT,
    }
    rows = store.query(load_query("finding_bundles"), parameters)
    return [StoredFinding.from_row(r) for r in rows]


def insert_leaves(store: EvidenceStore, leaves: Sequence[Leaf]) -> None:
    if not leaves:
        return
    rows = [
        {
            "leaf_index": leaf.leaf_index,
            "finding_id": leaf.finding_id,
            "leaf_hash": leaf.leaf_hash.hex(),
            "appended_at": format_datetime_utc(leaf.appended_at),
        }
        for leaf in leaves
    ]
    # Same leaves, same token: a retried insert is stored once.
    first, last = leaves[0], leaves[-1]
    token = f"evidence_leaves:{first.leaf_index}-{last.leaf_index}:{last.leaf_hash.hex()}"
    store.insert("evidence_leaves", rows, dedup_token=token)


def insert_head(store: EvidenceStore, head: TreeHead) -> None:
    row = {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "timestamp": format_datetime_utc(head.timestamp),
        "origin": head.origin,
        "key_id": head.key_id,
        "signature": base64.b64encode(head.signature).decode(),
        "frontier": [h.hex() for h in head.frontier],
    }
    # Ed25519 is deterministic: a retried insert of this head is stored once, another head
    # of the same tree (a later timestamp) is not mistaken for it.
    store.insert("tree_heads", [row], dedup_token=f"tree_heads:{row['signature']}")
