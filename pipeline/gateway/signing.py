"""Optional request signing: HMAC-SHA256 over timestamp, nonce and body.

The signing secret is derived from the API key (HMAC(key, "xbmon-signing-v1")), so an
enterprise needs nothing beyond its key and the server stores nothing beyond the key's hash.
A signature proves the body was not altered; the timestamp window and the nonce (kept by the
server for twice the window) make a captured request useless a second time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-Xbmon-Timestamp"
NONCE_HEADER = "X-Xbmon-Nonce"
SIGNATURE_HEADER = "X-Xbmon-Signature"
_CONTEXT = b"xbmon-signing-v1"
MAX_NONCE_LENGTH = 128


def signing_secret(token: str) -> bytes:
    return hmac.new(token.encode(), _CONTEXT, hashlib.sha256).digest()


def signature(token: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(signing_secret(token), message, hashlib.sha256).hexdigest()


def sign(token: str, body: bytes, now: float, nonce: str | None = None) -> dict[str, str]:
    """The headers of a signed request (the client side)."""
    timestamp = str(int(now))
    nonce = nonce or secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(token, timestamp, nonce, body),
    }


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason: str = ""
    nonce: str = ""


def check_signature(
    token: str, headers: dict[str, str], body: bytes, now: float, window_s: float
) -> SignatureCheck:
    """Verify the signature headers (the nonce's freshness is the caller's: it needs storage)."""
    timestamp = headers.get(TIMESTAMP_HEADER.lower())
    nonce = headers.get(NONCE_HEADER.lower())
    given = headers.get(SIGNATURE_HEADER.lower())
    if not timestamp or not nonce or not given:
        return SignatureCheck(
            False, f"signed requests need {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER}"
        )
    if not timestamp.isdigit():
        return SignatureCheck(False, f"{TIMESTAMP_HEADER} must be Unix seconds")
    if abs(now - int(timestamp)) > window_s:
        return SignatureCheck(False, f"{TIMESTAMP_HEADER} is outside the {window_s:.0f} s window")
    if len(nonce) > MAX_NONCE_LENGTH:
        return SignatureCheck(False, f"{NONCE_HEADER} is longer than {MAX_NONCE_LENGTH}")
    if not hmac.compare_digest(given, signature(token, timestamp, nonce, body)):
        return SignatureCheck(False, "signature does not match the body")
    return SignatureCheck(True, nonce=nonce)
