"""The whole-log audit behind `xbmon evidence audit`.

Checks, from the stored rows and the public key only:
- the leaves are numbered 0..n-1 once each, one leaf per finding;
- every leaf matches its stored finding (bundle -> evidence_hash -> leaf hash), no leaf lost
  its finding (except findings past their retention TTL) and no stored finding is missing;
- every tree head is signed by the key, its root is the root of the stored leaves at its
  size, and each is consistent (RFC 9162 proof) with the one before;
- the last tree head covers every leaf;
- optionally, a head the auditor kept from earlier (`trusted`) is still part of the log: the
  stored leaves give its root and the latest head is consistent with it. Without one, a log
  rolled back or rebuilt whole (every head re-signed) by the key holder cannot be told apart.
Every leaf and finding is read into memory once (O(n)); roots and proofs come from one
`LeafTree`, so each head costs O(log^2 n).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pipeline.evidence_log.leaves import finding_leaf_hash
from pipeline.evidence_log.log_store import fetch_heads, fetch_leaves, fetch_stored_findings
from pipeline.evidence_log.merkle import (
    HASH_SIZE,
    LeafTree,
    ProofError,
    consistency_proof,
    verify_consistency,
)
from pipeline.evidence_log.signing import TreeHead, head_signature_problem
from pipeline.storage import EvidenceStore


@dataclass
class AuditReport:
    leaves: int = 0
    findings: int = 0
    tree_heads: int = 0
    tree_size: int = 0  # of the latest head
    expired: int = 0  # leaves whose finding left the store by its retention TTL
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_log(
    store: EvidenceStore,
    public_key: Ed25519PublicKey,
    now: datetime,
    retention_days: int,
    trusted: TreeHead | None = None,
) -> AuditReport:
    report = AuditReport()
    problems = report.problems
    leaves = fetch_leaves(store)
    findings = {f.finding_id: f for f in fetch_stored_findings(store)}
    heads = fetch_heads(store)
    report.leaves, report.findings, report.tree_heads = len(leaves), len(findings), len(heads)

    # Numbering: exactly one row per index 0..n-1.
    by_index: dict[int, bytes] = {}
    for leaf in leaves:
        if leaf.leaf_index in by_index:
            problems.append(f"leaf index {leaf.leaf_index} is stored more than once")
        elif len(leaf.leaf_hash) != HASH_SIZE:
            problems.append(f"leaf {leaf.leaf_index}: the stored leaf hash is not a SHA-256")
            by_index[leaf.leaf_index] = bytes(HASH_SIZE)
        else:
            by_index[leaf.leaf_index] = leaf.leaf_hash
    size = len(by_index)
    gaps = sorted(set(range(size)) - set(by_index))
    if gaps or (by_index and max(by_index) != size - 1):
        missing = gaps or sorted(set(range(max(by_index) + 1)) - set(by_index))
        problems.append(f"leaves are missing from the log at indices {_some(missing)}")
    for finding_id, n in Counter(leaf.finding_id for leaf in leaves).items():
        if n > 1:
            problems.append(f"finding {finding_id} has {n} leaves")

    # Leaves against the findings table, both ways.
    expiry = now - timedelta(days=retention_days)
    sealed = set()
    for leaf in leaves:
        sealed.add(leaf.finding_id)
        stored = findings.get(leaf.finding_id)
        if stored is None:
            if leaf.appended_at < expiry:
                report.expired += 1
            else:
                problems.append(
                    f"leaf {leaf.leaf_index}: finding {leaf.finding_id} was deleted from the store"
                )
            continue
        bundle_problem = stored.bundle_problem()
        if bundle_problem is not None:
            problems.append(f"leaf {leaf.leaf_index}: {bundle_problem}")
        elif finding_leaf_hash(stored.finding) != leaf.leaf_hash:
            problems.append(
                f"leaf {leaf.leaf_index}: finding {leaf.finding_id} was changed after it was "
                "sealed (its row no longer hashes to the leaf)"
            )
    unsealed = sorted(set(findings) - sealed)
    if unsealed:
        problems.append(
            f"{len(unsealed)} stored findings are not in the log ({_some(unsealed)}); "
            "`xbmon evidence seal` appends them"
        )

    # Tree heads: signatures, roots over the stored leaves, consistency head to head.
    tree = LeafTree([by_index.get(i, bytes(HASH_SIZE)) for i in range(size)]) if size else None
    previous = None
    for head in heads:
        problem = head_signature_problem(head, public_key)
        if problem is not None:
            problems.append(problem)
        if head.tree_size > size or tree is None:
            problems.append(f"tree head {head.tree_size} covers leaves that are not stored")
            previous = head
            continue
        if tree.root(head.tree_size) != head.root_hash:
            problems.append(
                f"tree head {head.tree_size}: the stored leaves do not give its signed root"
            )
        if previous is not None:
            try:
                proof = (
                    consistency_proof(previous.tree_size, head.tree_size, tree.subtree)
                    if previous.tree_size
                    else []
                )
                if previous.tree_size:
                    verify_consistency(
                        previous.tree_size,
                        head.tree_size,
                        previous.root_hash,
                        head.root_hash,
                        proof,
                    )
            except ProofError as exc:
                problems.append(
                    f"tree heads {previous.tree_size} -> {head.tree_size} are not consistent: {exc}"
                )
        previous = head
    report.tree_size = heads[-1].tree_size if heads else 0
    if size > report.tree_size:
        problems.append(
            f"{size - report.tree_size} leaves are after the last signed tree head "
            "(a seal was interrupted; `xbmon evidence seal` signs them)"
        )
    if trusted is not None:
        problems.extend(_trusted_head_problems(trusted, public_key, tree, heads))
    return report


def _trusted_head_problems(
    trusted: TreeHead, public_key: Ed25519PublicKey, tree: LeafTree | None, heads: list[TreeHead]
) -> list[str]:
    problem = head_signature_problem(trusted, public_key)
    if problem is not None:
        return [f"the trusted head: {problem}"]
    size = 0 if tree is None else tree.size
    if trusted.tree_size > size or tree is None:
        return [
            f"the trusted head covers {trusted.tree_size} leaves, the log holds {size}: "
            "it was truncated"
        ]
    if tree.root(trusted.tree_size) != trusted.root_hash:
        return ["the stored leaves do not give the trusted head's root: history was rewritten"]
    latest = heads[-1] if heads else None
    if latest is None or latest.tree_size < trusted.tree_size:
        return ["the latest stored tree head is older than the trusted head: it was rolled back"]
    try:
        proof = consistency_proof(trusted.tree_size, latest.tree_size, tree.subtree)
        verify_consistency(
            trusted.tree_size, latest.tree_size, trusted.root_hash, latest.root_hash, proof
        )
    except ProofError as exc:
        return [f"the latest tree head is not consistent with the trusted head: {exc}"]
    return []


def _some(items: list[int] | list[str], shown: int = 5) -> str:
    head = ", ".join(str(i) for i in items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")
