"""What the gateway must remember across restarts: accepted transfer ids and used nonces.

A transfer id is recorded only once the broker has acknowledged the message that carries
it, so "already accepted" always means "in the topic". Ids are kept for
`accepted_retention_days` (the idempotency horizon), nonces for twice the signature window.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.gateway.db import connect, gateway_dir, statements, transaction

STATE_FILE = "state.sqlite"
_SQL = "state.sql"
DAY_S = 86400.0


class GatewayState:
    def __init__(self, data_dir: Path, retention_days: int, nonce_window_s: float) -> None:
        self._db = connect(gateway_dir(data_dir) / STATE_FILE, _SQL)
        self._sql = statements(_SQL)
        self.retention_s = retention_days * DAY_S
        self.nonce_window_s = nonce_window_s

    def close(self) -> None:
        self._db.close()

    def accepted(self, enterprise_id: str, transfer_id: str) -> bool:
        row = self._db.execute(
            self._sql["is_accepted"], {"enterprise_id": enterprise_id, "transfer_id": transfer_id}
        ).fetchone()
        return row is not None

    def accept(self, enterprise_id: str, transfer_ids: Iterable[str], now: float) -> None:
        with transaction(self._db):
            self._db.executemany(
                self._sql["accept"],
                [
                    {"enterprise_id": enterprise_id, "transfer_id": t, "accepted_at": now}
                    for t in transfer_ids
                ],
            )

    def use_nonce(self, key_id: str, nonce: str, now: float) -> bool:
        """Record a nonce; False when this key has already used it within the window."""
        cursor = self._db.execute(
            self._sql["use_nonce"], {"key_id": key_id, "nonce": nonce, "seen_at": now}
        )
        return cursor.rowcount == 1

    def forget_accepted(self) -> None:
        """For a new, empty broker: what was accepted into the previous one is not in it."""
        self._db.execute(self._sql["forget_accepted"])

    def prune(self, now: float) -> None:
        """Forget ids past the idempotency horizon and nonces past any valid timestamp."""
        self._db.execute(self._sql["prune_accepted"], {"cutoff": now - self.retention_s})
        self._db.execute(self._sql["prune_nonces"], {"cutoff": now - 2 * self.nonce_window_s})


def forget_broker_state(data_dir: Path) -> None:
    """Accepted ids and the status projection of a broker that is gone (keys are kept).

    The embedded broker keeps its topics in memory, so each `xbmon up` starts with empty
    topics: ids accepted by an earlier run must be accepted again, and the status projection
    (its offsets and counts) starts over.
    """
    from pipeline.gateway.status import STATUS_FILE

    state = GatewayState(data_dir, retention_days=1, nonce_window_s=1.0)
    try:
        state.forget_accepted()
    finally:
        state.close()
    for suffix in ("", "-wal", "-shm"):
        (gateway_dir(data_dir) / (STATUS_FILE + suffix)).unlink(missing_ok=True)
