"""The sequencer on a real chDB store: append once per finding, sign, stay consistent."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipeline.evidence_log import merkle
from pipeline.evidence_log.audit import audit_log
from pipeline.evidence_log.leaves import finding_leaf_hash
from pipeline.evidence_log.log_store import (
    Leaf,
    fetch_heads,
    fetch_leaves,
    fetch_stored_findings,
    insert_leaves,
)
from pipeline.evidence_log.sequencer import SealError, next_since, seal
from pipeline.evidence_log.signing import (
    PUBLIC_KEY_FILE,
    SigningKeyError,
    head_signature_problem,
    key_path,
    load_signing_key,
)
from pipeline.evidence_log.verify import check_document, proof_document
from pipeline.rules.findings import EvaluatedFinding
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore, finding_row

ORIGIN = "test.xbmon/v1"
T1 = datetime(2026, 11, 22, 3, 0, 0, 123456, tzinfo=UTC)
StoreFindings = Callable[[EvidenceStore, Sequence[EvaluatedFinding], str], None]


@pytest.fixture
def key(settings: Settings) -> Ed25519PrivateKey:
    return load_signing_key(settings, create=True)


def leaf_count(store: EvidenceStore) -> int:
    return len(fetch_leaves(store))


def test_seals_each_finding_once_and_every_head_is_consistent(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    first, second = engine_findings[:25], engine_findings[25:]
    store_findings(store, first, "batch-1")
    sealed = seal(store, key, ORIGIN, T1)
    assert sealed.appended == 25 and sealed.head is not None
    assert sealed.head.tree_size == 25
    # Nothing new: no new head.
    assert seal(store, key, ORIGIN, T1 + timedelta(seconds=5)).head is None
    store_findings(store, second, "batch-2")
    again = seal(store, key, ORIGIN, T1 + timedelta(seconds=10))
    assert again.head is not None and again.head.tree_size == len(engine_findings)

    heads = fetch_heads(store)
    assert [h.tree_size for h in heads] == [25, len(engine_findings)]
    leaves = fetch_leaves(store)
    assert [leaf.leaf_index for leaf in leaves] == list(range(len(engine_findings)))
    assert {leaf.finding_id for leaf in leaves} == {f.finding.finding_id for f in engine_findings}
    tree = merkle.LeafTree([leaf.leaf_hash for leaf in leaves])
    for head in heads:
        assert head_signature_problem(head, key.public_key()) is None
        assert tree.root(head.tree_size) == head.root_hash
    proof = merkle.consistency_proof(25, len(engine_findings), tree.subtree)
    merkle.verify_consistency(25, heads[1].tree_size, heads[0].root_hash, heads[1].root_hash, proof)
    # Leaves follow the order the sequencer documents within a seal (ts, rule, id).
    by_id = {s.finding_id: s.finding for s in fetch_stored_findings(store)}
    firsts = [by_id[leaf.finding_id] for leaf in leaves[:25]]
    assert firsts == sorted(firsts, key=lambda f: (f.ts, f.rule_id, f.finding_id))
    # Every finding proves, and the whole log audits clean.
    for evaluated in engine_findings[::7]:
        checks = check_document(
            proof_document(store, evaluated.finding.finding_id), key.public_key()
        )
        assert [c.ok for c in checks] == [True] * 4, checks
    report = audit_log(store, key.public_key(), T1, 3 * 366)
    assert report.ok, report.problems
    assert (report.leaves, report.findings, report.tree_heads) == (len(engine_findings),) * 2 + (2,)


def test_a_redelivered_finding_never_adds_a_second_leaf(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    batch = engine_findings[:10]
    store_findings(store, batch, "batch-a")
    seal(store, key, ORIGIN, T1)
    # Redelivered: the same findings in another batch (another token, a later inserted_at),
    # and a sealed finding arriving again together with a new one.
    later = [finding_row(f, inserted_at=T1 + timedelta(minutes=1)) for f in batch]
    store.insert("findings", later, dedup_token="batch-a-redelivered")
    store_findings(store, [batch[0], engine_findings[10]], "batch-b")
    result = seal(store, key, ORIGIN, T1 + timedelta(minutes=2))
    assert result.appended == 1  # only the new finding
    leaves = fetch_leaves(store)
    assert len(leaves) == 11 and len({leaf.finding_id for leaf in leaves}) == 11
    assert audit_log(store, key.public_key(), T1, 3 * 366).ok


def test_leaves_of_an_interrupted_seal_are_signed_by_the_next(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    store_findings(store, engine_findings[:5], "b1")
    seal(store, key, ORIGIN, T1)
    store_findings(store, engine_findings[5:9], "b2")
    # A seal that died after writing its leaves and before its head:
    dangling = [
        Leaf(5 + i, f.finding.finding_id, finding_leaf_hash(f.finding), T1)
        for i, f in enumerate(engine_findings[5:7])
    ]
    insert_leaves(store, dangling)
    report = audit_log(store, key.public_key(), T1, 3 * 366)
    assert any("after the last signed tree head" in p for p in report.problems)
    result = seal(store, key, ORIGIN, T1 + timedelta(seconds=5))
    assert result.appended == 4 and result.head is not None and result.head.tree_size == 9
    assert audit_log(store, key.public_key(), T1, 3 * 366).ok


def test_a_finding_altered_before_its_seal_is_not_signed(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    store_findings(store, engine_findings[:3], "b1")
    target = engine_findings[1].finding.finding_id
    store.query(
        "ALTER TABLE {database:Identifier}.findings UPDATE bundle = concat(bundle, ' ') "
        "WHERE finding_id = {id:String} SETTINGS mutations_sync = 1",
        {"id": target},
    )
    result = seal(store, key, ORIGIN, T1)
    assert result.appended == 2 and len(result.skipped) == 1 and target in result.skipped[0]
    report = audit_log(store, key.public_key(), T1, 3 * 366)
    assert any(target in p and "not in the log" in p for p in report.problems)


def test_refuses_to_extend_a_head_it_cannot_trust(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    store_findings(store, engine_findings[:6], "b1")
    seal(store, key, ORIGIN, T1)
    store_findings(store, engine_findings[6:8], "b2")
    # Signed by someone else's key: the sequencer does not build on it.
    with pytest.raises(SealError, match="cannot be trusted"):
        seal(store, Ed25519PrivateKey.generate(), ORIGIN, T1 + timedelta(seconds=1))
    # The stored frontier of the head no longer gives its root.
    store.query(
        "ALTER TABLE {database:Identifier}.tree_heads UPDATE frontier = [repeat('0', 64), "
        "repeat('0', 64)] WHERE tree_size = 6 SETTINGS mutations_sync = 1"
    )
    with pytest.raises(SealError, match="frontier"):
        seal(store, key, ORIGIN, T1 + timedelta(seconds=2))
    assert leaf_count(store) == 6  # nothing appended by the refused seals


def test_the_signing_key_is_generated_once_with_owner_only_permissions(
    settings: Settings,
) -> None:
    key = load_signing_key(settings, create=True)
    path = key_path(settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert (path.parent / PUBLIC_KEY_FILE).read_bytes().startswith(b"-----BEGIN PUBLIC KEY")
    again = load_signing_key(settings, create=True)
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    server = Settings(data_dir=settings.data_dir / "elsewhere", mode="server")
    with pytest.raises(SigningKeyError, match="generated only in embedded mode"):
        load_signing_key(server, create=True)
    path.write_text("not a key")
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM"):
        load_signing_key(settings, create=True)


def test_the_store_writers_sealer_seals_periodically_and_once_more_at_exit(
    store: EvidenceStore,
    settings: Settings,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    """The hook's thread: a seal every interval while the writer runs, a last one after it."""
    import threading
    import time

    from pipeline.evidence_log import sequencer

    fast = settings.model_copy(  # small seals: the backlog at exit takes several
        update={
            "evidence": settings.evidence.model_copy(
                update={"seal_interval_s": 0.3, "seal_max_leaves": 2}
            )
        }
    )
    assert (
        sequencer.start_sealer(
            fast.model_copy(
                update={"evidence": fast.evidence.model_copy(update={"sequencer": False})}
            )
        )
        is None
    )
    writer_stops = threading.Event()
    writer = threading.Thread(target=writer_stops.wait)  # stands for the store writer's main
    writer.start()
    sealer = threading.Thread(target=sequencer._seal_periodically, args=(fast, writer))
    sealer.start()
    store_findings(store, engine_findings[:4], "b1")
    deadline = time.monotonic() + 20
    while leaf_count(store) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leaf_count(store) == 4  # sealed while running
    store_findings(store, engine_findings[4:9], "b2")
    writer_stops.set()  # the writer stops: its last inserts must still be sealed
    writer.join()
    sealer.join(timeout=20)
    assert not sealer.is_alive()
    sizes = [head.tree_size for head in fetch_heads(store)]
    assert leaf_count(store) == 9 and sizes[-1] == 9
    assert all(b - a <= 2 for a, b in pairwise(sizes))


def test_a_bounded_seal_reads_recent_findings_and_never_reseals_a_redelivered_one(
    store: EvidenceStore, key: Ed25519PrivateKey, engine_findings: list[EvaluatedFinding]
) -> None:
    old, recent = engine_findings[:10], engine_findings[10:20]
    day_before = T1 - timedelta(days=1)
    store.insert("findings", [finding_row(f, inserted_at=day_before) for f in old], "old")
    assert seal(store, key, ORIGIN, T1).appended == 10  # unbounded: the whole store
    store.insert("findings", [finding_row(f, inserted_at=T1) for f in recent], "recent")
    # Redelivered: the same findings again, inserted now; they stay sealed once.
    store.insert("findings", [finding_row(f, inserted_at=T1) for f in old], "redelivered")
    since = T1 - timedelta(hours=1)
    assert seal(store, key, ORIGIN, T1 + timedelta(seconds=5), since=since).appended == 10
    assert leaf_count(store) == 20
    # Stored before the bound and not sealed: only an unbounded seal sees it.
    late = engine_findings[20:21]
    store.insert("findings", [finding_row(f, inserted_at=day_before) for f in late], "late")
    assert seal(store, key, ORIGIN, T1 + timedelta(seconds=10), since=since).head is None
    assert seal(store, key, ORIGIN, T1 + timedelta(seconds=15)).appended == 1


def test_the_periodic_sealer_bounds_its_next_scan_only_after_a_complete_seal() -> None:
    settings = Settings(evidence={"seal_max_leaves": 100, "seal_lookback_s": 60})  # type: ignore[arg-type]
    earlier = T1 - timedelta(minutes=5)
    assert next_since(None, 3, T1, settings) == T1 - timedelta(seconds=60)
    assert next_since(earlier, 0, T1, settings) == T1 - timedelta(seconds=60)
    assert next_since(earlier, 100, T1, settings) is None  # cut at the limit: older ones wait
    assert next_since(earlier, None, T1, settings) == earlier  # failed: do not move on
    assert next_since(None, None, T1, settings) is None
