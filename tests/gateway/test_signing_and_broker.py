"""Signed requests and their replay; a broker that stops answering; health endpoints."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from pipeline.broker import LocalBroker, free_port
from pipeline.gateway.signing import sign
from pipeline.kafka_admin import ensure_topics
from pipeline.topics import ALL_TOPICS

A = "91110000600037341L"
Logs = Callable[[], list[tuple[bytes, dict[str, Any]]]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_signed_request_is_accepted_once_and_its_replay_refused(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs
) -> None:
    token = new_key(A, require_signature=True)
    log = make_log(A)
    body = orjson.dumps([log])
    headers = {**bearer(token), **sign(token, body, time.time())}
    with gateway() as client:
        unsigned = client.post("/v1/transfer-logs", content=body, headers=bearer(token))
        first = client.post("/v1/transfer-logs", content=body, headers=headers)
        replayed = client.post("/v1/transfer-logs", content=body, headers=headers)
        tampered = client.post(
            "/v1/transfer-logs",
            content=orjson.dumps([{**log, "subjects": 1}]),
            headers={**bearer(token), **sign(token, body, time.time())},
        )
        stale = client.post(
            "/v1/transfer-logs",
            content=body,
            headers={**bearer(token), **sign(token, body, time.time() - 301)},
        )
    assert unsigned.status_code == 401  # this key requires signing
    assert first.status_code == 202, first.text
    assert replayed.status_code == 409
    assert "replayed" in replayed.json()["detail"]
    assert tampered.status_code == 401
    assert stale.status_code == 401
    found = [r for _, r in read_logs() if r["transfer_id"] == log["transfer_id"]]
    assert len(found) == 1


def test_health_and_readiness(gateway: Any, broker: LocalBroker) -> None:
    with gateway() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
    # A broker address where nothing listens: up, not ready.
    with gateway(bootstrap="127.0.0.1:9", produce_timeout_s=1.0) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503


def test_broker_unreachable_at_start_is_503(gateway: Any, new_key: Any, make_log: Any) -> None:
    token = new_key(A)
    with gateway(bootstrap="127.0.0.1:9", produce_timeout_s=1.0) as client:
        answer = client.post("/v1/transfer-logs", json=[make_log(A)], headers=bearer(token))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]


def test_stopped_broker_503_then_every_acknowledged_record_once(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs, broker: LocalBroker
) -> None:
    """The broker freezes (SIGSTOP: it cannot answer, and keeps its in-memory log, which a
    restart of the memory-only Tansu would lose); the client keeps retrying what was refused."""
    token = new_key(A)
    before = [make_log(A) for _ in range(3)]
    during = [make_log(A) for _ in range(3)]
    acknowledged: list[str] = []
    assert broker.pid is not None
    with gateway(produce_timeout_s=1.5) as client:
        for log in before:
            answer = client.post("/v1/transfer-logs", json=[log], headers=bearer(token))
            assert answer.status_code == 202
            acknowledged.append(log["transfer_id"])
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            refused = [
                client.post("/v1/transfer-logs", json=[log], headers=bearer(token))
                for log in during
            ]
            not_ready = client.get("/readyz")
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        assert [r.status_code for r in refused] == [503, 503, 503]
        assert not_ready.status_code == 503
        # The client retries everything that was refused, the whole request each time.
        deadline = time.monotonic() + 30
        pending = list(during)
        while pending and time.monotonic() < deadline:
            answer = client.post("/v1/transfer-logs", json=pending, headers=bearer(token))
            if answer.status_code == 202:
                acknowledged.extend(log["transfer_id"] for log in pending)
                pending = []
            else:
                assert answer.status_code == 503
                time.sleep(0.5)
        assert not pending
        assert client.get("/readyz").status_code == 200
    ids = {log["transfer_id"] for log in before + during}
    in_topic = sorted(r["transfer_id"] for _, r in read_logs() if r["transfer_id"] in ids)
    assert in_topic == sorted(acknowledged)  # every acknowledged id, exactly once


def test_broker_stopped_is_503_and_the_gateway_recovers_when_it_restarts(
    gateway: Any, new_key: Any, make_log: Any, read_topic_logs: Any, tmp_path: Path
) -> None:
    """A real stop and restart on the same port (the memory broker comes back empty)."""
    own = LocalBroker(tmp_path / "own-broker", port=free_port())
    own.start()
    try:
        ensure_topics(own.bootstrap_servers, ALL_TOPICS, 1, 1)
        token = new_key(A)
        refused_log, later_log = make_log(A), make_log(A)
        with gateway(bootstrap=own.bootstrap_servers, produce_timeout_s=1.5) as client:
            assert (
                client.post(
                    "/v1/transfer-logs", json=[make_log(A)], headers=bearer(token)
                ).status_code
                == 202
            )
            own.stop()
            refused = client.post("/v1/transfer-logs", json=[refused_log], headers=bearer(token))
            assert refused.status_code == 503
            assert client.get("/readyz").status_code == 503
            own.start()
            ensure_topics(own.bootstrap_servers, ALL_TOPICS, 1, 1)
            deadline = time.monotonic() + 30
            answer = refused
            while answer.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.5)
                answer = client.post(
                    "/v1/transfer-logs", json=[refused_log, later_log], headers=bearer(token)
                )
            assert answer.status_code == 202, answer.text
            # The refused send may have been delivered once the broker was back: the retry then
            # counts it as a duplicate instead of producing it again.
            assert answer.json()["accepted"] + answer.json()["duplicates"] == 2
            assert client.get("/readyz").status_code == 200
        in_topic = [r["transfer_id"] for _, r in read_topic_logs(own.bootstrap_servers)]
        assert sorted(in_topic) == sorted([refused_log["transfer_id"], later_log["transfer_id"]])
    finally:
        own.stop()
