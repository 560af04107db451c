"""The OpenAPI document: committed copy current, and the app honours it (schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.broker import LocalBroker
from pipeline.gateway.app import create_app
from pipeline.gateway.keys import KeyStore
from pipeline.gateway.openapi import COMMITTED, openapi_bytes
from pipeline.settings import GatewaySettings, Settings
from pipeline.worker import utc_now

A = "91110000600037341L"


def test_committed_openapi_is_current() -> None:
    assert COMMITTED.read_bytes() == openapi_bytes(), (
        "run `xbmon schema openapi schemas/openapi/gateway.json`"
    )


def test_served_openapi_names_every_endpoint_and_the_transfer_log_schema() -> None:
    document = create_app(Settings()).openapi()
    assert set(document["paths"]) == {"/v1/transfer-logs", "/v1/status", "/healthz", "/readyz"}
    push = document["paths"]["/v1/transfer-logs"]["post"]
    assert set(push["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert {"202", "401", "403", "413", "422", "429", "503"} <= set(push["responses"])
    assert "TransferLog" in document["components"]["schemas"]


@pytest.fixture(scope="module")
def key_and_app(
    broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    data_dir = tmp_path_factory.mktemp("openapi-data")
    store = KeyStore(data_dir)
    token = store.create(A, utc_now()).token
    store.close()
    app = create_app(
        Settings(gateway=GatewaySettings(status_enabled=False, rate_per_s=1000, rate_burst=1000)),
        bootstrap=broker.bootstrap_servers,
        data_dir=data_dir,
    )
    yield token, app


@pytest.fixture(scope="module")
def api_schema(key_and_app: tuple[str, Any]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", key_and_app[1])


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_fits_the_schema(
    case: Any, key_and_app: tuple[str, Any]
) -> None:
    token = key_and_app[0]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
