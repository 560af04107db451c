"""Signed tree heads: the Ed25519 key of the log and the bytes it signs.

A tree head is signed as a checkpoint (the C2SP tlog-checkpoint body: origin line, tree size,
base64 root hash) with one extension line `timestamp <RFC 3339>`, so it can be checked with
nothing but the public key and this text. The key id is the first 8 bytes (hex) of the
SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.settings import Settings
from schemas.types import format_datetime

KEY_FILE = "signing_key.pem"
PUBLIC_KEY_FILE = "signing_key.pub.pem"


class SigningKeyError(RuntimeError):
    """No usable signing or public key."""


@dataclass(frozen=True)
class TreeHead:
    """A signed statement that the log held `tree_size` leaves under `root_hash`."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    origin: str
    key_id: str
    signature: bytes
    frontier: tuple[bytes, ...] = ()

    def body(self) -> bytes:
        return checkpoint_body(self.origin, self.tree_size, self.root_hash, self.timestamp)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeHead:
        """A head as `as_json` gives it (KeyError, TypeError, ValueError when it is not one)."""
        return cls(
            tree_size=int(data["tree_size"]),
            root_hash=bytes.fromhex(data["root_hash"]),
            timestamp=datetime.fromisoformat(data["timestamp"]),
            origin=str(data["origin"]),
            key_id=str(data["key_id"]),
            signature=base64.b64decode(data["signature"], validate=True),
        )

    def as_json(self) -> dict[str, object]:
        """The head as a regulator receives it (frontier left out: it is the log's own aid)."""
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": format_datetime(self.timestamp),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
            "checkpoint": self.body().decode(),
        }


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    root = base64.b64encode(root_hash).decode()
    return f"{origin}\n{tree_size}\n{root}\ntimestamp {format_datetime(timestamp)}\n".encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_head(
    key: Ed25519PrivateKey,
    origin: str,
    tree_size: int,
    root_hash: bytes,
    timestamp: datetime,
    frontier: tuple[bytes, ...] = (),
) -> TreeHead:
    body = checkpoint_body(origin, tree_size, root_hash, timestamp)
    return TreeHead(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=timestamp,
        origin=origin,
        key_id=key_id(key.public_key()),
        signature=key.sign(body),
        frontier=frontier,
    )


def head_signature_problem(head: TreeHead, public_key: Ed25519PublicKey) -> str | None:
    """Why the head's signature does not hold under `public_key` (None when it does)."""
    if head.key_id != key_id(public_key):
        return f"tree head {head.tree_size} names key {head.key_id}, not {key_id(public_key)}"
    try:
        public_key.verify(head.signature, head.body())
    except InvalidSignature:
        return f"the signature of tree head {head.tree_size} does not verify"
    return None


# -- keys -------------------------------------------------------------------------------------


def key_path(settings: Settings) -> Path:
    return settings.evidence.signing_key_file or settings.data_dir / "evidence" / KEY_FILE


def load_signing_key(settings: Settings, *, create: bool) -> Ed25519PrivateKey:
    """The log's private key from settings; generated (0600) on first use in embedded mode."""
    configured = settings.evidence.signing_key
    if configured is not None:
        return _private_key(configured.get_secret_value().encode(), "XBMON_EVIDENCE__SIGNING_KEY")
    path = key_path(settings)
    if path.exists():
        return _private_key(path.read_bytes(), str(path))
    if not create or settings.mode != "embedded":
        raise SigningKeyError(
            f"no evidence signing key: {path} does not exist; set XBMON_EVIDENCE__SIGNING_KEY "
            "or XBMON_EVIDENCE__SIGNING_KEY_FILE (keys are generated only in embedded mode)"
        )
    return _create_key(path)


def load_public_key(settings: Settings, public_key_file: Path | None = None) -> Ed25519PublicKey:
    """The key heads are checked with: a file given (a regulator's copy), else the log's own."""
    if public_key_file is not None:
        data = public_key_file.read_bytes()
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise SigningKeyError(f"{public_key_file}: not a PEM public key ({exc})") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(f"{public_key_file}: not an Ed25519 public key")
        return key
    return load_signing_key(settings, create=False).public_key()


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _private_key(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{where}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{where}: not an Ed25519 private key")
    return key


def _create_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _private_key(path.read_bytes(), str(path))
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    (path.parent / PUBLIC_KEY_FILE).write_bytes(public_key_pem(key.public_key()))
    return key
