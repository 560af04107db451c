"""What a leaf of the evidence log is: one finding, as published, committed to its bundle.

The leaf entry is the canonical JSON (keys sorted, compact, UTF-8) of the finding's contract
fields, the same fields `xbmon replay` prints. Among them `evidence_hash` is the SHA-256 of
the canonical bundle, so the chain a verifier walks is: bundle -> evidence_hash -> entry ->
leaf hash -> inclusion proof -> signed tree head. Rewriting any column of a sealed finding
(its bundle, severity, explanation, ...) changes the leaf hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.evidence_log.merkle import leaf_hash
from pipeline.rules.evidence import canonical_json
from schemas.models import Finding

FINDING_FIELDS = tuple(Finding.model_fields)


@dataclass(frozen=True)
class StoredFinding:
    """A findings row: the finding and the bundle text exactly as stored."""

    finding: Finding
    bundle: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredFinding:
        return cls(finding=finding_of(row), bundle=str(row["bundle"]))

    @property
    def finding_id(self) -> str:
        return self.finding.finding_id

    def bundle_problem(self) -> str | None:
        """Why the stored bundle does not match the finding's evidence_hash (None if it does)."""
        if hashlib.sha256(self.bundle.encode()).hexdigest() != self.finding.evidence_hash:
            return bundle_mismatch(self.finding_id)
        return None


@dataclass(frozen=True)
class UnsealedFinding:
    """A findings row as the sealer reads it: the finding, and whether the stored bundle
    hashes to its evidence_hash (the store checks; the bundle itself is not read)."""

    finding: Finding
    bundle_matches: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> UnsealedFinding:
        return cls(finding_of(row), bool(row["bundle_matches"]))

    @property
    def finding_id(self) -> str:
        return self.finding.finding_id

    def bundle_problem(self) -> str | None:
        return None if self.bundle_matches else bundle_mismatch(self.finding_id)


def finding_of(row: Mapping[str, Any]) -> Finding:
    """The finding of a findings row, validated (what is signed must be a Finding)."""
    return Finding.model_validate({name: row[name] for name in FINDING_FIELDS})


def bundle_mismatch(finding_id: str) -> str:
    return f"finding {finding_id}: the stored bundle does not hash to evidence_hash"


def leaf_entry(finding: Finding) -> bytes:
    return canonical_json(finding.model_dump(mode="json"))


def finding_leaf_hash(finding: Finding) -> bytes:
    return leaf_hash(leaf_entry(finding))
