"""Enterprise API keys: one enterprise per key, stored only as a keyed hash.

A key reads `xbk_<key_id>_<secret>`: the id is public (listing, revocation, logs), the
secret is 256 random bits. Only HMAC-SHA256(pepper, secret) is stored; a high-entropy secret
needs no slow password hash, and the pepper (a setting, or a random file beside the
database) keeps a stolen database from being checked offline. Every check reads the
database, so a revocation applies to the next request of a running gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from pipeline.gateway.db import connect, gateway_dir, statements
from schemas.types import format_datetime

PREFIX = "xbk"
KEY_ID_BYTES = 6
SECRET_BYTES = 32
PEPPER_FILE = "pepper"
KEYS_FILE = "keys.sqlite"
_SQL = "keys.sql"
_DUMMY_HASH = "0" * 64


class UnknownKeyError(LookupError):
    """A key id that does not exist (for `revoke`)."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    enterprise_id: str
    require_signature: bool
    label: str | None
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str  # shown once, never stored


def load_pepper(directory: Path, configured: SecretStr | None) -> bytes:
    """The configured pepper, else a random one created once in `directory` (mode 0600)."""
    if configured is not None:
        return configured.get_secret_value().encode()
    path = directory / PEPPER_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def split_token(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 2 * KEY_ID_BYTES:
        return None
    return parts[1], parts[2]


class KeyStore:
    """The keys database of one data directory."""

    def __init__(self, data_dir: Path, pepper: SecretStr | None = None) -> None:
        directory = gateway_dir(data_dir)
        self._pepper = load_pepper(directory, pepper)
        self._db = connect(directory / KEYS_FILE, _SQL)
        self._sql = statements(_SQL)

    def close(self) -> None:
        self._db.close()

    def _hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def create(
        self,
        enterprise_id: str,
        now: datetime,
        *,
        require_signature: bool = False,
        label: str | None = None,
    ) -> NewKey:
        key_id = secrets.token_hex(KEY_ID_BYTES)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        row = {
            "key_id": key_id,
            "enterprise_id": enterprise_id,
            "secret_hash": self._hash(secret),
            "require_signature": int(require_signature),
            "label": label,
            "created_at": format_datetime(now),
        }
        self._db.execute(self._sql["insert"], row)
        return NewKey(_key(row | {"revoked_at": None}), f"{PREFIX}_{key_id}_{secret}")

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key a token names, compared in constant time; None if unknown or revoked."""
        parts = split_token(token)
        key_id, secret = parts if parts else ("", token)
        row = self._db.execute(self._sql["by_id"], {"key_id": key_id}).fetchone()
        stored = row["secret_hash"] if row else _DUMMY_HASH
        matches = hmac.compare_digest(stored, self._hash(secret))
        if row is None or not matches or row["revoked_at"] is not None:
            return None
        return _key(dict(row))

    def list(self, enterprise_id: str | None = None) -> list[ApiKey]:
        rows = self._db.execute(self._sql["list"], {"enterprise_id": enterprise_id}).fetchall()
        return [_key(dict(r)) for r in rows]

    def revoke(self, key_id: str, now: datetime) -> bool:
        """True if the key was live and is now revoked; False if it was already revoked."""
        if self._db.execute(self._sql["by_id"], {"key_id": key_id}).fetchone() is None:
            raise UnknownKeyError(f"no key {key_id}")
        cursor = self._db.execute(
            self._sql["revoke"], {"key_id": key_id, "revoked_at": format_datetime(now)}
        )
        return cursor.rowcount == 1


def _key(row: dict[str, object]) -> ApiKey:
    return ApiKey(
        key_id=str(row["key_id"]),
        enterprise_id=str(row["enterprise_id"]),
        require_signature=bool(row["require_signature"]),
        label=None if row["label"] is None else str(row["label"]),
        created_at=str(row["created_at"]),
        revoked_at=None if row["revoked_at"] is None else str(row["revoked_at"]),
    )
