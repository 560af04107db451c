"""Assemble a Finding from a rule verdict: id, severity, explanation and evidence hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.config import RulesConfig
from pipeline.kept_json import kept
from pipeline.rules import ENGINE_VERSION
from pipeline.rules.evidence import canonical_hash, canonical_json, finding_id
from pipeline.rules.explain import explain
from schemas.construct import constructed
from schemas.models import Finding
from schemas.types import RequiredPath, RuleId


@dataclass(frozen=True)
class EvaluatedFinding:
    """A finding with the canonical evidence bundle its `evidence_hash` is computed over."""

    finding: Finding
    bundle: dict[str, Any]
    # The bundle's canonical JSON, the bytes `evidence_hash` was computed over and the store
    # keeps (encoding a ~1.7 KB bundle again for its row cost ~1.5 µs a finding). None: encode.
    # Right-sized (`kept`): orjson's own buffer for it is 8-16 KiB, and a flow batch holds
    # ~20k findings until their rows are sent: kept as orjson returned them, the worker's
    # peak RSS rose ~400 MB (tenth round).
    canonical: bytes | None = field(default=None, compare=False, repr=False)


def make_finding(
    config: RulesConfig,
    rule_id: RuleId,
    enterprise_id: str,
    about: tuple[str | int, ...],
    ts: datetime,
    *,
    transfer_id: str | None = None,
    required_path: RequiredPath | None = None,
    filing_ids: list[str] | None = None,
    context: dict[str, Any],
    evidence: dict[str, Any],
) -> EvaluatedFinding:
    """`about` identifies what the finding concerns; with the rule it fixes the finding id."""
    bundle = {
        "engine_version": ENGINE_VERSION,
        "rule_id": rule_id,
        "enterprise_id": enterprise_id,
        "about": list(about),
        "parameters": config.summary,
        **evidence,
    }
    canonical = kept(canonical_json(bundle))
    english, chinese = explain(rule_id, {"enterprise_id": enterprise_id, **context})
    values = {  # every field of a Finding, in its order (see `constructed`)
        "finding_id": finding_id(rule_id, enterprise_id, *about),
        "rule_id": rule_id,
        "severity": config.severities[rule_id],
        "enterprise_id": enterprise_id,
        "transfer_id": transfer_id,
        "ts": ts,
        "required_path": required_path,
        "filing_ids": sorted(set(filing_ids or [])),
        "explanation": english,
        "explanation_zh": chinese,
        "evidence_hash": canonical_hash(canonical),
    }
    finding = constructed(Finding, values)
    return EvaluatedFinding(finding=finding, bundle=bundle, canonical=canonical)
