"""One finding's proof: what `xbmon evidence show` prints and `verify` checks.

The proof document is self-contained: with it and the log's public key anyone can redo the
whole chain (`check_document`) without xbmon's store:
bundle -> evidence_hash -> leaf entry -> leaf hash -> inclusion proof -> signed tree head.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from pipeline.evidence_log.leaves import leaf_entry
from pipeline.evidence_log.log_store import (
    fetch_latest_head,
    fetch_leaves,
    fetch_leaves_of,
    fetch_stored_findings,
)
from pipeline.evidence_log.merkle import (
    LeafTree,
    ProofError,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from pipeline.evidence_log.signing import TreeHead, head_signature_problem
from pipeline.storage import EvidenceStore
from schemas.models import Finding


class ProofUnavailableError(LookupError):
    """No proof can be built for the finding (unknown, not sealed yet, no tree head)."""


@dataclass(frozen=True)
class Check:
    step: str
    ok: bool
    detail: str


def proof_document(store: EvidenceStore, finding_id: str) -> dict[str, Any]:
    """The finding, its bundle, its leaf and an inclusion proof under the latest tree head."""
    found = fetch_stored_findings(store, [finding_id])
    if not found:
        raise ProofUnavailableError(f"no stored finding {finding_id}")
    stored = found[0]
    leaves = fetch_leaves_of(store, finding_id)
    if not leaves:
        raise ProofUnavailableError(
            f"finding {finding_id} is not in the evidence log yet (`xbmon evidence seal`)"
        )
    if len(leaves) > 1:
        indices = ", ".join(str(leaf.leaf_index) for leaf in leaves)
        raise ProofUnavailableError(f"finding {finding_id} has several leaves ({indices})")
    leaf = leaves[0]
    head = fetch_latest_head(store)
    if head is None or head.tree_size <= leaf.leaf_index:
        raise ProofUnavailableError(
            f"leaf {leaf.leaf_index} is not under a signed tree head yet (`xbmon evidence seal`)"
        )
    stored_hashes = [h.leaf_hash for h in fetch_leaves(store, 0, head.tree_size)]
    try:
        proof = inclusion_proof(leaf.leaf_index, head.tree_size, LeafTree(stored_hashes).subtree)
    except ProofError as exc:
        raise ProofUnavailableError(
            f"the stored leaves cannot prove leaf {leaf.leaf_index}: {exc}"
        ) from exc
    return {
        "finding": stored.finding.model_dump(mode="json"),
        "bundle": stored.bundle,
        "leaf": {
            "index": leaf.leaf_index,
            "hash": leaf.leaf_hash.hex(),
            "appended_at": leaf.appended_at.isoformat(),
        },
        "inclusion_proof": [p.hex() for p in proof],
        "tree_head": head.as_json(),
    }


def check_document(document: dict[str, Any], public_key: Ed25519PublicKey) -> list[Check]:
    """Every step of the chain, in order; verification stops at the first that fails."""
    checks: list[Check] = []

    def fail(step: str, detail: str) -> list[Check]:
        checks.append(Check(step, False, detail))
        return checks

    try:
        finding = Finding.model_validate(document["finding"])
        bundle = str(document["bundle"]).encode()
        index = int(document["leaf"]["index"])
        recorded_leaf = bytes.fromhex(document["leaf"]["hash"])
        proof = [bytes.fromhex(p) for p in document["inclusion_proof"]]
        head = TreeHead.from_json(document["tree_head"])
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        return fail("document", f"not a proof document: {exc}")

    digest = hashlib.sha256(bundle).hexdigest()
    if digest != finding.evidence_hash:
        return fail("bundle", f"the bundle hashes to {digest}, not to {finding.evidence_hash}")
    checks.append(Check("bundle", True, f"sha256(bundle) = evidence_hash {digest}"))

    computed = leaf_hash(leaf_entry(finding))
    if computed != recorded_leaf:
        return fail(
            "leaf",
            f"the finding hashes to leaf {computed.hex()}, but leaf {index} of the log is "
            f"{recorded_leaf.hex()}: the finding was changed after it was sealed",
        )
    checks.append(Check("leaf", True, f"leaf {index} = {computed.hex()}"))

    try:
        verify_inclusion(index, head.tree_size, computed, proof, head.root_hash)
    except ProofError as exc:
        return fail("inclusion", f"{exc} (tree size {head.tree_size})")
    checks.append(
        Check("inclusion", True, f"leaf {index} is in the tree of {head.tree_size} leaves")
    )

    problem = head_signature_problem(head, public_key)
    if problem is not None:
        return fail("signature", problem)
    checks.append(Check("signature", True, f"tree head signed by key {head.key_id}"))
    return checks
