"""GET /v1/status: the caller's own enterprise, projected from the topics (real broker)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from pipeline.broker import LocalBroker
from pipeline.topics import ALERT_ACTIONS, FINDINGS, SCORES

A = "91110000600037341L"
B = "91310000MA1FL0001R"


def finding(enterprise_id: str, finding_id: str, rule_id: str) -> dict[str, Any]:
    return {
        "finding_id": finding_id,
        "rule_id": rule_id,
        "severity": "high",
        "enterprise_id": enterprise_id,
        "transfer_id": None,
        "ts": "2026-03-02T00:00:00Z",
        "required_path": None,
        "filing_ids": [],
        "explanation": "x",
        "explanation_zh": "x",
        "evidence_hash": "0" * 64,
    }


def score(enterprise_id: str, credit: float, computed_at: str) -> bytes:
    return orjson.dumps(
        {
            "enterprise_id": enterprise_id,
            "credit": credit,
            "risk": 12.5,
            "tier": "B",
            "previous_tier": None,
            "trigger": "batch",
            "computed_at": computed_at,
            "config_version": "2025.1",
            "contributions": [],
        }
    )


def test_status_shows_only_the_callers_enterprise(
    gateway: Any, new_key: Any, make_log: Any, broker: LocalBroker, data_dir: Path
) -> None:
    token_a, token_b = new_key(A), new_key(B)
    run = time.time_ns()
    ids = [f"{run}-{i}" for i in range(4)]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    findings_a = [
        finding(A, ids[0], "XB-PATH-MISSING"),
        finding(A, ids[1], "XB-PATH-MISSING"),
        finding(A, ids[2], "XB-SCOPE-COUNTRY"),
    ]
    producer.send(FINDINGS.name, key=A.encode(), value=orjson.dumps(findings_a))
    producer.send(FINDINGS.name, key=A.encode(), value=orjson.dumps(findings_a[:1]))  # again
    producer.send(
        FINDINGS.name, key=B.encode(), value=orjson.dumps([finding(B, ids[3], "XB-PATH-MISSING")])
    )
    producer.send(SCORES.name, key=A.encode(), value=score(A, 80.0, "2026-03-02T00:00:00Z"))
    producer.send(SCORES.name, key=A.encode(), value=score(A, 75.5, "2026-03-03T00:00:00Z"))
    producer.send(
        ALERT_ACTIONS.name,
        key=A.encode(),
        value=orjson.dumps({"alert_id": "x", "status": "resolved", "finding_ids": [ids[2]]}),
    )
    producer.flush()
    producer.close()
    headers = {"Authorization": f"Bearer {token_a}"}
    with gateway(status_enabled=True) as client:
        logs = [make_log(A) for _ in range(3)]
        assert client.post("/v1/transfer-logs", json=logs, headers=headers).status_code == 202
        deadline = time.monotonic() + 20
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = client.get("/v1/status", headers=headers).json()
            if status["score"] and status["transfers"] >= 3 and status["findings"] >= 3:
                break
            time.sleep(0.2)
        other = client.get("/v1/status", headers={"Authorization": f"Bearer {token_b}"}).json()
    assert status["enterprise_id"] == A
    # This module's broker holds only this test's records: exact counts.
    assert status["findings_by_rule"] == {"XB-PATH-MISSING": 2, "XB-SCOPE-COUNTRY": 1}
    assert (status["findings"], status["open_findings"]) == (3, 2)  # one resolved
    assert status["score"]["credit"] == 75.5 and status["score"]["tier"] == "B"  # the latest
    assert status["transfers"] == 3
    assert other["enterprise_id"] == B
    assert other["score"] is None
    assert other["findings"] == 1
