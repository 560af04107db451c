"""POST /v1/transfer-logs against a real broker: who may push what, and what reaches the topic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from pipeline.gateway.keys import KeyStore
from pipeline.worker import utc_now

A = "91110000600037341L"
B = "91310000MA1FL0001R"
Logs = Callable[[], list[tuple[bytes, dict[str, Any]]]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ids_in_topic(read_logs: Logs, ids: set[str]) -> list[str]:
    return [r["transfer_id"] for _, r in read_logs() if r["transfer_id"] in ids]


def test_accepted_logs_reach_the_topic_keyed_by_enterprise_with_received_at(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs
) -> None:
    token = new_key(A)
    logs = [make_log(A, received_at="2020-01-01T00:00:00Z") for _ in range(3)]
    with gateway() as client:
        answer = client.post("/v1/transfer-logs", json=logs, headers=bearer(token))
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 3, "duplicates": 0}
    ids = {log["transfer_id"] for log in logs}
    found = [(key, r) for key, r in read_logs() if r["transfer_id"] in ids]
    assert sorted(r["transfer_id"] for _, r in found) == sorted(ids)
    assert {key for key, _ in found} == {A.encode()}
    # The client's received_at is overwritten by the gateway's arrival time.
    assert all(r["received_at"] != "2020-01-01T00:00:00Z" for _, r in found)
    assert all(r["received_at"].startswith(str(utc_now().year)) for _, r in found)


def test_ndjson_body_is_accepted(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs
) -> None:
    token = new_key(A)
    logs = [make_log(A) for _ in range(2)]
    body = b"\n".join(orjson.dumps(log) for log in logs) + b"\n"
    with gateway() as client:
        answer = client.post(
            "/v1/transfer-logs",
            content=body,
            headers={**bearer(token), "Content-Type": "application/x-ndjson"},
        )
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 2
    assert len(ids_in_topic(read_logs, {log["transfer_id"] for log in logs})) == 2


def test_no_key_wrong_key_and_revoked_key_are_401(
    gateway: Any, new_key: Any, make_log: Any, data_dir: Path
) -> None:
    token = new_key(A)
    key_id = token.split("_")[1]
    body = [make_log(A)]
    with gateway() as client:
        assert client.post("/v1/transfer-logs", json=body).status_code == 401
        assert (
            client.post(
                "/v1/transfer-logs", json=body, headers=bearer(token[:-2] + "xx")
            ).status_code
            == 401
        )
        assert (
            client.post("/v1/transfer-logs", json=body, headers=bearer("nonsense")).status_code
            == 401
        )
        assert client.get("/v1/status", headers=bearer(token + "x")).status_code == 401
        assert client.post("/v1/transfer-logs", json=body, headers=bearer(token)).status_code == 202
        # Revoked while the gateway runs: refused at the next request, no restart.
        store = KeyStore(data_dir)
        assert store.revoke(key_id, utc_now())
        store.close()
        refused = client.post("/v1/transfer-logs", json=[make_log(A)], headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"


def test_a_record_of_another_enterprise_refuses_the_whole_request(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs
) -> None:
    token = new_key(A)
    logs = [make_log(A), make_log(B), make_log(A)]
    with gateway() as client:
        answer = client.post("/v1/transfer-logs", json=logs, headers=bearer(token))
    assert answer.status_code == 403
    assert "[1]" in answer.json()["detail"]
    assert [(e["index"], e["field"]) for e in answer.json()["errors"]] == [(1, "enterprise_id")]
    assert ids_in_topic(read_logs, {log["transfer_id"] for log in logs}) == []


def test_invalid_records_refuse_the_batch_with_index_and_field(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs
) -> None:
    token = new_key(A)
    logs = [
        make_log(A),
        make_log(A, subjects="many"),  # wrong type
        make_log(A, colour="blue"),  # unknown field
        make_log(A),
    ]
    with gateway() as client:
        answer = client.post("/v1/transfer-logs", json=logs, headers=bearer(token))
        malformed = client.post(
            "/v1/transfer-logs",
            content=b'[{"transfer_id": "x",',
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        bad_line = client.post(
            "/v1/transfer-logs",
            content=orjson.dumps(make_log(A)) + b"\n{oops\n",
            headers={**bearer(token), "Content-Type": "application/x-ndjson"},
        )
        not_array = client.post("/v1/transfer-logs", json=make_log(A), headers=bearer(token))
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(1, "subjects"), (2, "colour")}
    assert all(e["message"] for e in errors)
    assert ids_in_topic(read_logs, {log["transfer_id"] for log in logs}) == []
    assert malformed.status_code == 422
    assert "invalid JSON" in malformed.json()["detail"]
    assert bad_line.status_code == 422
    assert [(e["index"], e["field"]) for e in bad_line.json()["errors"]] == [(1, "record")]
    assert not_array.status_code == 422


def test_body_and_record_limits_are_413(gateway: Any, new_key: Any, make_log: Any) -> None:
    token = new_key(A)
    with gateway(max_body_bytes=4096, max_records=3) as client:
        big = client.post(
            "/v1/transfer-logs", json=[make_log(A) for _ in range(20)], headers=bearer(token)
        )
        many = client.post(
            "/v1/transfer-logs",
            json=[{"transfer_id": str(i)} for i in range(4)],
            headers=bearer(token),
        )
        fine = client.post("/v1/transfer-logs", json=[make_log(A)], headers=bearer(token))
    assert big.status_code == 413
    assert many.status_code == 413
    assert fine.status_code == 202


def test_rate_limit_is_429_with_retry_after(gateway: Any, new_key: Any, make_log: Any) -> None:
    token, other = new_key(A), new_key(A)
    with gateway(rate_per_s=0.5, rate_burst=2) as client:
        codes = [
            client.post("/v1/transfer-logs", json=[make_log(A)], headers=bearer(token)).status_code
            for _ in range(2)
        ]
        limited = client.post("/v1/transfer-logs", json=[make_log(A)], headers=bearer(token))
        other_key = client.post("/v1/transfer-logs", json=[make_log(A)], headers=bearer(other))
    assert codes == [202, 202]
    assert limited.status_code == 429
    # The wall clock runs between requests: the wait is 2 s (one token at 0.5/s) minus the
    # time elapsed, rounded up. Exact values are asserted with a fixed clock in
    # test_gateway_state.py::test_token_bucket_refills_at_the_rate.
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    assert other_key.status_code == 202  # the limit is per key


def test_duplicate_transfer_id_is_counted_and_produced_once(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Logs
) -> None:
    token = new_key(A)
    first, second = make_log(A), make_log(A)
    with gateway() as client:
        one = client.post("/v1/transfer-logs", json=[first], headers=bearer(token))
        again = client.post(
            "/v1/transfer-logs", json=[first, second, second], headers=bearer(token)
        )
    # A restarted gateway still knows what it accepted.
    with gateway() as client:
        after_restart = client.post("/v1/transfer-logs", json=[first], headers=bearer(token))
    assert one.json() == {"accepted": 1, "duplicates": 0}
    assert again.json() == {"accepted": 1, "duplicates": 2}
    assert after_restart.json() == {"accepted": 0, "duplicates": 1}
    found = ids_in_topic(read_logs, {first["transfer_id"], second["transfer_id"]})
    assert sorted(found) == sorted([first["transfer_id"], second["transfer_id"]])


def test_unsupported_media_type_is_415(gateway: Any, new_key: Any) -> None:
    token = new_key(A)
    with gateway() as client:
        answer = client.post(
            "/v1/transfer-logs",
            content=b"a,b",
            headers={**bearer(token), "Content-Type": "text/csv"},
        )
    assert answer.status_code == 415


def test_metrics_count_requests_and_records(gateway: Any, new_key: Any, make_log: Any) -> None:
    token = new_key(A)
    with gateway() as client:

        def sample(name: str, **labels: str) -> float:
            for family in text_string_to_metric_families(client.get("/metrics").text):
                for s in family.samples:
                    if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                        return float(s.value)
            return 0.0

        before = sample("xbmon_gateway_records_total", outcome="accepted")
        refused = sample("xbmon_gateway_requests_total", endpoint="/v1/transfer-logs", status="401")
        client.post("/v1/transfer-logs", json=[make_log(A), make_log(A)], headers=bearer(token))
        client.post("/v1/transfer-logs", json=[make_log(A)])
        assert sample("xbmon_gateway_records_total", outcome="accepted") == before + 2
        assert (
            sample("xbmon_gateway_requests_total", endpoint="/v1/transfer-logs", status="401")
            == refused + 1
        )
