"""The sequencer: appends stored findings that are not leaves yet, then signs a tree head.

Decoupled from the write path: it reads the findings table, so whatever path stored a
finding (the store writer, a spool drain, a replay) it is sealed the same way, once. The
leaf key is finding_id, so a redelivered or replaced findings row never adds a second leaf.

One sequencer per log. In embedded mode the store writer is the one chDB writer and runs it
(`start_sealer`, every `evidence.seal_interval_s` and once more at exit); in server mode
exactly one process must have `evidence.sequencer` on (or run `xbmon evidence seal` from one
scheduler): two sequencers would race for the same leaf indices. A seal checks for that
(the head and the leaves it signs are re-read before signing) and refuses to sign when the
log moved under it, but it cannot prevent it.

Appending reads no earlier leaf: the previous head carries the tree's frontier, which is
checked against the previous signed root, extended with the new leaves, and the new root is
checked for consistency with the previous head (RFC 9162 consistency proof) before it is
signed and written. Leaves written by a seal that died before its head are picked up first.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipeline import metrics
from pipeline.evidence_log.leaves import finding_leaf_hash
from pipeline.evidence_log.log_store import (
    Leaf,
    fetch_latest_head,
    fetch_leaves,
    fetch_unsealed,
    insert_head,
    insert_leaves,
)
from pipeline.evidence_log.merkle import (
    Frontier,
    FrontierExtension,
    ProofError,
    consistency_proof,
    verify_consistency,
)
from pipeline.evidence_log.signing import (
    TreeHead,
    head_signature_problem,
    load_signing_key,
    sign_head,
)
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore, open_store

log = logging.getLogger(__name__)

_POLL_S = 0.2


class SealError(RuntimeError):
    """The log is not in a state a new tree head may be signed on; nothing was signed."""


@dataclass(frozen=True)
class SealResult:
    appended: int
    head: TreeHead | None  # None: nothing new to seal
    skipped: list[str] = field(default_factory=list)  # findings refused (bundle mismatch)


def seal(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    origin: str,
    now: datetime,
    limit: int | None = None,
    since: datetime | None = None,
) -> SealResult:
    """Append every unsealed finding (at most `limit`) and sign the new tree head.

    `since`: look only at findings inserted from then (the periodic sealer's bound; None
    scans every stored finding).
    """
    previous = fetch_latest_head(store)
    frontier = _trusted_frontier(previous, key)
    pending = fetch_leaves(store, first=frontier.size)  # from a seal that died before its head
    _check_contiguous(pending, frontier.size, "leaves after the last tree head")
    timestamp = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    skipped: list[str] = []
    new: list[Leaf] = []
    for stored in fetch_unsealed(store, limit, since):
        problem = stored.bundle_problem()
        if problem is not None:  # altered between insert and seal: never sign it
            log.error("not sealed: %s", problem)
            skipped.append(problem)
            continue
        index = frontier.size + len(pending) + len(new)
        new.append(Leaf(index, stored.finding_id, finding_leaf_hash(stored.finding), timestamp))
    if not pending and not new:
        return SealResult(0, None, skipped)
    insert_leaves(store, new)

    appended = [leaf.leaf_hash for leaf in (*pending, *new)]
    old = frontier.copy()
    try:
        for leaf_hash in appended:
            frontier.append(leaf_hash)
    except ProofError as exc:
        raise SealError(f"a stored leaf after tree head {old.size} is malformed: {exc}") from exc
    root = frontier.root()
    if previous is not None:
        proof = consistency_proof(old.size, frontier.size, FrontierExtension(old, appended).subtree)
        try:
            verify_consistency(old.size, frontier.size, previous.root_hash, root, proof)
        except ProofError as exc:
            raise SealError(
                f"the new tree is not consistent with tree head {old.size}: {exc}"
            ) from exc

    # One sequencer per log: refuse to sign if the log moved under us.
    latest = fetch_latest_head(store)
    if (latest and (latest.tree_size, latest.root_hash)) != (
        previous and (previous.tree_size, previous.root_hash)
    ):
        raise SealError("another tree head was written while sealing: two sequencers?")
    written = fetch_leaves(store, first=old.size)
    _check_contiguous(written, old.size, "leaves just appended")
    if [leaf.leaf_hash for leaf in written] != appended:
        raise SealError("the stored leaves differ from the ones appended: two sequencers?")

    head = sign_head(key, origin, frontier.size, root, timestamp, tuple(frontier.hashes))
    insert_head(store, head)
    metrics.EVIDENCE_LOG_LEAVES.set(head.tree_size)
    return SealResult(len(appended), head, skipped)


def _trusted_frontier(previous: TreeHead | None, key: Ed25519PrivateKey) -> Frontier:
    if previous is None:
        return Frontier()
    problem = head_signature_problem(previous, key.public_key())
    if problem is not None:
        raise SealError(f"the latest tree head cannot be trusted: {problem}")
    try:
        frontier = Frontier(previous.tree_size, previous.frontier)
    except ProofError as exc:
        raise SealError(f"tree head {previous.tree_size} has a broken frontier: {exc}") from exc
    if frontier.root() != previous.root_hash:
        raise SealError(f"the frontier of tree head {previous.tree_size} does not give its root")
    return frontier


def _check_contiguous(leaves: list[Leaf], first: int, what: str) -> None:
    indices = [leaf.leaf_index for leaf in leaves]
    if indices != list(range(first, first + len(leaves))):
        raise SealError(f"{what} are not numbered {first}, {first + 1}, ... without gaps")


# -- the store writer's hook ------------------------------------------------------------------


def start_sealer(settings: Settings) -> threading.Thread | None:
    """Seal every `evidence.seal_interval_s` in a thread, and once more when the process ends.

    The thread is not a daemon: after the main thread returns (the writer has stopped and
    closed its store) it runs a last seal, so everything stored is sealed, then exits.
    """
    if not settings.evidence.sequencer:
        return None
    thread = threading.Thread(
        target=_seal_periodically,
        args=(settings, threading.main_thread()),
        name="evidence-sealer",
    )
    thread.start()
    return thread


def _seal_periodically(settings: Settings, main: threading.Thread) -> None:
    try:
        key = load_signing_key(settings, create=True)
        store = open_store(settings)
    except Exception:
        log.exception("the evidence sealer cannot start; findings are not being sealed")
        metrics.EVIDENCE_SEALS.labels("failed").inc()
        return
    try:
        due = time.monotonic() + settings.evidence.seal_interval_s
        since: datetime | None = None  # the first seal looks at every stored finding
        while main.is_alive():
            time.sleep(_POLL_S)
            if time.monotonic() >= due:
                started = datetime.now(UTC)
                appended = _seal_logged(store, key, settings, since)
                since = next_since(since, appended, started, settings)
                due = time.monotonic() + settings.evidence.seal_interval_s
        while (_seal_logged(store, key, settings) or 0) >= settings.evidence.seal_max_leaves:
            pass  # the writer has stopped: seal the whole backlog
    finally:
        store.close()


def next_since(
    since: datetime | None, appended: int | None, started: datetime, settings: Settings
) -> datetime | None:
    """Where the next periodic seal starts looking, after one that `appended` (None: failed).

    A seal that ran in full saw every finding stored before it started; the next looks back
    `seal_lookback_s` from then (clock skew, inserts in flight). A seal cut at
    `seal_max_leaves` left older findings behind, and a failed one may have: scan them all.
    """
    if appended is None:
        return since
    if appended >= settings.evidence.seal_max_leaves:
        return None
    return started - timedelta(seconds=settings.evidence.seal_lookback_s)


def _seal_logged(
    store: EvidenceStore,
    key: Ed25519PrivateKey,
    settings: Settings,
    since: datetime | None = None,
) -> int | None:
    """One seal of at most `seal_max_leaves` findings; how many were appended (None: failed)."""
    limit = settings.evidence.seal_max_leaves
    try:
        result = seal(store, key, settings.evidence.origin, datetime.now(UTC), limit, since)
    except Exception:  # the thread must outlive a failed seal; the next one retries
        log.exception("sealing the evidence log failed")
        metrics.EVIDENCE_SEALS.labels("failed").inc()
        return None
    metrics.EVIDENCE_SEALS.labels("sealed" if result.head else "idle").inc()
    if result.head is not None:
        log.info(
            "evidence log: %d leaves appended, tree size %d", result.appended, result.head.tree_size
        )
    return result.appended
