"""Tampering is detected: rows rewritten or deleted in ClickHouse, any flipped byte in a proof."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.evidence_log.audit import audit_log
from pipeline.evidence_log.log_store import fetch_latest_head, fetch_leaves, insert_head
from pipeline.evidence_log.sequencer import seal
from pipeline.evidence_log.signing import load_signing_key, sign_head
from pipeline.evidence_log.verify import check_document, proof_document
from pipeline.rules.findings import EvaluatedFinding
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore, finding_row

T1 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
RETENTION = 3 * 366
StoreFindings = Callable[[EvidenceStore, Sequence[EvaluatedFinding], str], None]


@pytest.fixture
def sealed(
    store: EvidenceStore,
    settings: Settings,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> tuple[EvidenceStore, Ed25519PrivateKey, list[EvaluatedFinding]]:
    """A log of 20 findings sealed in two heads, audited clean."""
    key = load_signing_key(settings, create=True)
    findings = engine_findings[:20]
    store_findings(store, findings[:12], "b1")
    seal(store, key, "t/v1", T1)
    store_findings(store, findings[12:], "b2")
    seal(store, key, "t/v1", T1)
    assert audit_log(store, key.public_key(), T1, RETENTION).ok
    return store, key, findings


def mutate(store: EvidenceStore, sql: str, **parameters: Any) -> None:
    store.query(sql + " SETTINGS mutations_sync = 1", parameters)


def problems(store: EvidenceStore, key: Ed25519PrivateKey) -> list[str]:
    report = audit_log(store, key.public_key(), T1, RETENTION)
    assert not report.ok
    return report.problems


def failed_step(store: EvidenceStore, key: Ed25519PrivateKey, finding_id: str) -> str:
    checks = check_document(proof_document(store, finding_id), key.public_key())
    assert not checks[-1].ok
    return checks[-1].step


def test_a_findings_row_rewritten_in_place_is_detected(sealed: Any) -> None:
    store, key, findings = sealed
    target = findings[3].finding.finding_id
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.findings UPDATE severity = 'info' "
        "WHERE finding_id = {id:String}",
        id=target,
    )
    assert any(target in p and "changed after it was sealed" in p for p in problems(store, key))
    assert failed_step(store, key, target) == "leaf"


def test_a_newer_version_of_a_finding_is_detected(sealed: Any) -> None:
    """Rewriting through the application's own path: a later row replaces the sealed one."""
    store, key, findings = sealed
    original = findings[5]
    forged_bundle = {**original.bundle, "note": "nothing to see"}
    from pipeline.rules.evidence import evidence_hash

    forged = EvaluatedFinding(
        finding=original.finding.model_copy(update={"evidence_hash": evidence_hash(forged_bundle)}),
        bundle=forged_bundle,
    )
    store.insert("findings", [finding_row(forged, inserted_at=datetime.now(UTC))], "forged")
    target = original.finding.finding_id
    assert any(target in p and "changed after it was sealed" in p for p in problems(store, key))
    assert failed_step(store, key, target) == "leaf"


def test_a_bundle_rewritten_in_place_is_detected(sealed: Any) -> None:
    store, key, findings = sealed
    target = findings[7].finding.finding_id
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.findings UPDATE bundle = replaceOne(bundle, '{', '{ ') "
        "WHERE finding_id = {id:String}",
        id=target,
    )
    assert any(target in p and "does not hash to evidence_hash" in p for p in problems(store, key))
    assert failed_step(store, key, target) == "bundle"


def test_a_deleted_finding_is_detected(sealed: Any) -> None:
    store, key, findings = sealed
    target = findings[0].finding.finding_id
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.findings DELETE WHERE finding_id = {id:String}",
        id=target,
    )
    assert any(target in p and "was deleted" in p for p in problems(store, key))


def test_a_rewritten_leaf_is_detected(sealed: Any) -> None:
    store, key, findings = sealed
    target = findings[2].finding.finding_id
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.evidence_leaves UPDATE leaf_hash = repeat('a', 64) "
        "WHERE finding_id = {id:String}",
        id=target,
    )
    found = problems(store, key)
    assert any("do not give its signed root" in p for p in found)
    assert any("changed after it was sealed" in p for p in found)
    assert failed_step(store, key, target) == "leaf"


def test_a_deleted_leaf_is_detected(sealed: Any) -> None:
    store, key, _ = sealed
    mutate(store, "ALTER TABLE {database:Identifier}.evidence_leaves DELETE WHERE leaf_index = 4")
    found = problems(store, key)
    assert any("missing from the log at indices 4" in p for p in found)


def test_a_forged_or_rewritten_tree_head_is_detected(sealed: Any) -> None:
    store, key, _ = sealed
    forger = Ed25519PrivateKey.generate()
    insert_head(store, sign_head(forger, "t/v1", 20, b"\x11" * 32, T1))
    found = problems(store, key)
    assert any("names key" in p for p in found)
    assert any("do not give its signed root" in p for p in found)
    mutate(store, "ALTER TABLE {database:Identifier}.tree_heads DELETE WHERE key_id != ''")
    seal(store, key, "t/v1", T1 + timedelta(seconds=1))  # re-signs the whole log
    assert audit_log(store, key.public_key(), T1, RETENTION).ok
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.tree_heads UPDATE root_hash = repeat('b', 64) "
        "WHERE tree_size = 20",
    )
    assert any("does not verify" in p for p in problems(store, key))


# -- flipped bytes in a proof document --------------------------------------------------------


@pytest.fixture
def document(sealed: Any) -> tuple[dict[str, Any], Ed25519PrivateKey]:
    store, key, findings = sealed
    doc = proof_document(store, findings[13].finding.finding_id)
    assert [c.ok for c in check_document(doc, key.public_key())] == [True] * 4
    return doc, key


def flip_hex(value: str, position: int, bit: int) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[position % len(raw)] ^= 1 << bit
    return raw.hex()


def flip_b64(value: str, position: int, bit: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[position % len(raw)] ^= 1 << bit
    return base64.b64encode(bytes(raw)).decode()


def flip_text(value: str, position: int, bit: int) -> str:
    raw = bytearray(value.encode())
    raw[position % len(raw)] ^= 1 << bit
    return raw.decode("utf-8", errors="replace")


TARGETS = ["bundle", "leaf", "proof", "root", "size", "index", "timestamp", "signature", "finding"]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(TARGETS),
    position=st.integers(min_value=0, max_value=10_000),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_is_rejected(
    document: tuple[dict[str, Any], Ed25519PrivateKey], target: str, position: int, bit: int
) -> None:
    original, key = document
    doc = copy.deepcopy(original)
    head = doc["tree_head"]
    if target == "bundle":
        doc["bundle"] = flip_text(doc["bundle"], position, bit)
    elif target == "leaf":
        doc["leaf"]["hash"] = flip_hex(doc["leaf"]["hash"], position, bit)
    elif target == "proof":
        which = position % len(doc["inclusion_proof"])
        doc["inclusion_proof"][which] = flip_hex(doc["inclusion_proof"][which], position, bit)
    elif target == "root":
        head["root_hash"] = flip_hex(head["root_hash"], position, bit)
    elif target == "size":
        head["tree_size"] ^= 1 << (bit % 5)
    elif target == "index":
        doc["leaf"]["index"] ^= 1 << (bit % 5)
    elif target == "timestamp":
        head["timestamp"] = "2026-11-22T03:00:00.001Z"
    elif target == "signature":
        head["signature"] = flip_b64(head["signature"], position, bit)
    else:
        field = sorted(doc["finding"])[position % len(doc["finding"])]
        doc["finding"][field] = _changed(doc["finding"][field])
    checks = check_document(doc, key.public_key())
    assert not all(c.ok for c in checks), (target, checks)


def _changed(value: Any) -> Any:
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "x"]
    return "x"


def test_a_log_rebuilt_or_rolled_back_by_the_key_holder_fails_against_a_kept_head(
    sealed: Any,
) -> None:
    """Without a kept head, a log rebuilt whole and re-signed looks intact; with one, not."""
    store, key, findings = sealed
    kept = fetch_latest_head(store)
    assert kept is not None and kept.tree_size == 20
    assert audit_log(store, key.public_key(), T1, RETENTION, trusted=kept).ok

    # Rebuilt: a finding rewritten, every leaf and head dropped, the log sealed again.
    target = findings[4].finding.finding_id
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.findings UPDATE explanation = 'fine' "
        "WHERE finding_id = {id:String}",
        id=target,
    )
    mutate(store, "ALTER TABLE {database:Identifier}.evidence_leaves DELETE WHERE 1")
    mutate(store, "ALTER TABLE {database:Identifier}.tree_heads DELETE WHERE 1")
    seal(store, key, "t/v1", T1 + timedelta(seconds=2))
    assert audit_log(store, key.public_key(), T1, RETENTION).ok
    rebuilt = audit_log(store, key.public_key(), T1, RETENTION, trusted=kept)
    assert any("history was rewritten" in p for p in rebuilt.problems)

    # Rolled back: the last leaves, their findings and the heads over them removed.
    gone = [leaf.finding_id for leaf in fetch_leaves(store, first=15)]
    mutate(store, "ALTER TABLE {database:Identifier}.evidence_leaves DELETE WHERE leaf_index >= 15")
    mutate(store, "ALTER TABLE {database:Identifier}.tree_heads DELETE WHERE tree_size > 15")
    mutate(
        store,
        "ALTER TABLE {database:Identifier}.findings "
        "DELETE WHERE has({ids:Array(String)}, finding_id)",
        ids=gone,
    )
    seal(store, key, "t/v1", T1 + timedelta(seconds=3))
    assert audit_log(store, key.public_key(), T1, RETENTION).ok
    rolled = audit_log(store, key.public_key(), T1, RETENTION, trusted=kept)
    assert any("it was truncated" in p for p in rolled.problems)
