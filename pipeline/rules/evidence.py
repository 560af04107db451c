"""Canonical evidence bundles, their SHA-256, and deterministic finding ids.

A bundle is everything a verdict rests on (inputs, filings examined, parameters, engine
version) as canonical JSON: keys sorted, no insignificant whitespace, UTF-8, datetimes in
RFC 3339 UTC. Same input, same bytes, same hash, in replay and in the stream alike.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_FINDING_ID_DOMAIN = b"xbmon-finding-v1"


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes of plain data (dicts, lists, str, int, float, bool, None)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def evidence_hash(bundle: dict[str, Any]) -> str:
    return canonical_hash(canonical_json(bundle))


def canonical_hash(canonical: bytes) -> str:
    """`evidence_hash` of a bundle already encoded by `canonical_json` (or read back stored)."""
    return hashlib.sha256(canonical).hexdigest()


def finding_id(rule_id: str, enterprise_id: str, *about: str | int) -> str:
    """A stable id from the rule and what the finding is about (same input twice = same id)."""
    digest = hashlib.sha256(_FINDING_ID_DOMAIN)
    for part in (rule_id, enterprise_id, *about):
        text = str(part).encode()
        digest.update(len(text).to_bytes(4, "big"))  # length-prefixed: no ambiguous joins
        digest.update(text)
    return digest.hexdigest()[:32]
