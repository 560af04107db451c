"""What the gateway keeps on disk: keys as keyed hashes, accepted ids and nonces, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from pipeline.gateway.keys import KeyStore, split_token
from pipeline.gateway.ratelimit import RateLimiter, retry_after_header
from pipeline.gateway.state import DAY_S, GatewayState, forget_broker_state
from pipeline.settings import GatewaySettings, Settings
from pipeline.worker import utc_now

A = "91110000600037341L"


def test_accepted_ids_are_forgotten_past_the_retention_and_nonces_past_two_windows(
    tmp_path: Path,
) -> None:
    state = GatewayState(tmp_path, retention_days=10, nonce_window_s=300)
    now = 1_000_000_000.0
    state.accept(A, ["old"], now - 11 * DAY_S)
    state.accept(A, ["recent"], now - 9 * DAY_S)
    assert state.use_nonce("k1", "n", now - 700)
    assert not state.use_nonce("k1", "n", now)  # replay
    assert state.use_nonce("k2", "n", now)  # nonces are per key
    state.prune(now)
    assert not state.accepted(A, "old")
    assert state.accepted(A, "recent")
    assert state.use_nonce("k1", "n", now)  # its first use is past two windows
    state.close()
    reopened = GatewayState(tmp_path, retention_days=10, nonce_window_s=300)
    assert reopened.accepted(A, "recent")  # survives a restart
    reopened.close()


def test_a_key_is_bound_to_its_pepper_and_enterprise(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, SecretStr("pepper-one"))
    token = store.create(A, utc_now()).token
    key = store.authenticate(token)
    assert key is not None and key.enterprise_id == A
    store.close()
    other = KeyStore(tmp_path, SecretStr("pepper-two"))
    assert other.authenticate(token) is None  # a stolen database is useless without the pepper
    other.close()
    assert split_token("xbk_short_x") is None
    assert split_token(token) is not None


def test_placeholder_pepper_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="key_pepper"):
        Settings(environment="production", gateway=GatewaySettings(key_pepper=SecretStr("secret")))
    Settings(environment="production", gateway=GatewaySettings(key_pepper=SecretStr("x" * 32)))


def test_token_bucket_refills_at_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=2)
    assert limiter.take("k", 0.0) == 0 and limiter.take("k", 0.0) == 0
    wait = limiter.take("k", 0.0)
    assert wait == pytest.approx(0.5)
    assert retry_after_header(wait) == "1"
    assert limiter.take("k", 0.5) == 0  # one token back after 1 / rate seconds


def test_a_new_embedded_broker_forgets_accepted_ids_but_keeps_keys_and_nonces(
    tmp_path: Path,
) -> None:
    store = KeyStore(tmp_path)
    token = store.create(A, utc_now()).token
    store.close()
    state = GatewayState(tmp_path, retention_days=10, nonce_window_s=300)
    state.accept(A, ["t1"], 1000.0)
    assert state.use_nonce("k", "n", 1000.0)
    state.close()
    status = tmp_path / "gateway" / "status.sqlite"
    status.write_bytes(b"")
    forget_broker_state(tmp_path)
    state = GatewayState(tmp_path, retention_days=10, nonce_window_s=300)
    assert not state.accepted(A, "t1")
    assert not state.use_nonce("k", "n", 1000.0)  # a replay is still a replay
    state.close()
    assert not status.exists()
    store = KeyStore(tmp_path)
    assert store.authenticate(token) is not None
    store.close()
