"""The gateway's HTTP application (FastAPI): ingestion, status and health.

Order of checks on a push, each refusing the whole request with nothing written: key (401),
rate (429), body size (413), signature (401, replay 409), media type (415), JSON (422),
record count (413), tenant (403), validation (422); then the broker (503 when it does not
acknowledge in time) and 202.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipeline import metrics
from pipeline.gateway.api_models import Accepted, Health, Problem, RecordError, Status
from pipeline.gateway.ingest import BrokerUnavailableError, Ingestor
from pipeline.gateway.keys import ApiKey, KeyStore
from pipeline.gateway.parse import (
    JSON,
    NDJSON,
    foreign_records,
    media_type,
    parse_body,
    validate_records,
)
from pipeline.gateway.ratelimit import RateLimiter, retry_after_header
from pipeline.gateway.signing import SIGNATURE_HEADER, check_signature
from pipeline.gateway.state import GatewayState
from pipeline.gateway.status import StatusProjection, enterprise_status, open_status_db
from pipeline.settings import Settings
from schemas.models import TransferLog

API_VERSION = "1.0.0"
PRUNE_INTERVAL_S = 3600.0
MAX_LISTED_ERRORS = 1000


class GatewayError(Exception):
    """Refuses the request with a `Problem` body."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[tuple[int, str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


@dataclass
class Gateway:
    """Everything a request needs; built at start-up, closed at shutdown."""

    settings: Settings
    keys: KeyStore
    state: GatewayState
    ingestor: Ingestor
    limiter: RateLimiter
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    status_db: sqlite3.Connection
    projection: StatusProjection | None


def _problem(status: int, description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


PUSH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem(401, "no key, an unknown or revoked key, or a bad signature"),
    403: _problem(403, "a record names another enterprise than the key's"),
    409: _problem(409, "a signed request replayed (nonce already used)"),
    413: _problem(413, "body or record count over the limit"),
    415: _problem(415, "neither application/json nor application/x-ndjson"),
    422: _problem(422, "malformed JSON or invalid records (each with index, field, message)"),
    429: _problem(429, "rate limit of the key; see Retry-After"),
    503: _problem(503, "the broker did not acknowledge; nothing was accepted, retry"),
}

TRANSFER_LOG_ARRAY = {"type": "array", "items": {"$ref": "#/components/schemas/TransferLog"}}
PUSH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": TRANSFER_LOG_ARRAY},
            NDJSON: {
                "schema": {"type": "string", "description": "one TransferLog JSON object a line"}
            },
        },
    }
}


async def authenticated(request: Request) -> ApiKey:
    gateway: Gateway = request.app.state.gateway
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = gateway.keys.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise GatewayError(
            401,
            "a valid API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = gateway.limiter.take(key.key_id, gateway.monotonic())
    if wait > 0:
        raise GatewayError(
            429,
            f"rate limit of {gateway.settings.gateway.rate_per_s:g} requests/s exceeded",
            headers={"Retry-After": retry_after_header(wait)},
        )
    request.state.token = token.strip()
    return key


Key = Annotated[ApiKey, Depends(authenticated)]


def create_app(
    settings: Settings,
    *,
    bootstrap: str | None = None,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The app; `bootstrap` and `data_dir` default to the settings (server mode)."""
    broker = bootstrap or settings.kafka.bootstrap_servers
    directory = data_dir or settings.data_dir
    gw = settings.gateway

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState(directory, gw.accepted_retention_days, gw.signature_window_s)
        projection = StatusProjection(broker, directory) if gw.status_enabled else None
        gateway = Gateway(
            settings=settings,
            keys=KeyStore(directory, gw.key_pepper),
            state=state,
            ingestor=Ingestor(
                broker,
                state,
                gw.produce_timeout_s,
                idempotence=settings.kafka.producer_idempotence,
                request_timeout_s=gw.producer_request_timeout_s,
                max_request_bytes=2 * gw.max_body_bytes + 1024 * 1024,
                clock=clock,
            ),
            limiter=RateLimiter(gw.rate_per_s, gw.rate_burst),
            clock=clock,
            monotonic=monotonic,
            status_db=open_status_db(directory),
            projection=projection,
        )
        app.state.gateway = gateway
        if projection is not None:
            projection.start()
        pruning = asyncio.create_task(_prune_periodically(gateway))
        try:
            yield
        finally:
            pruning.cancel()
            await gateway.ingestor.stop()
            if projection is not None:
                projection.stop()
                projection.join(timeout=5)
            gateway.status_db.close()
            gateway.keys.close()
            state.close()

    app = FastAPI(
        title="xbmon enterprise gateway",
        version=API_VERSION,
        description="Push transfer logs (spec/contracts.md TransferLog) and read your status.",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "other")  # the route template: bounded labels
        metrics.GATEWAY_REQUESTS.labels(endpoint, str(response.status_code)).inc()
        metrics.GATEWAY_LATENCY.labels(endpoint).observe(time.perf_counter() - began)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(GatewayError)
    async def _refused(request: Request, exc: GatewayError) -> JSONResponse:
        body = Problem(
            detail=exc.detail,
            errors=[
                RecordError(index=i, field=f, message=m)
                for i, f, m in exc.errors[:MAX_LISTED_ERRORS]
            ],
        )
        return JSONResponse(body.model_dump(), status_code=exc.status, headers=exc.headers)

    @app.post(
        "/v1/transfer-logs",
        status_code=202,
        response_model=Accepted,
        responses=PUSH_RESPONSES,
        openapi_extra=PUSH_BODY,
        summary="Push transfer logs (JSON array or NDJSON) of the key's enterprise",
    )
    async def push(request: Request, key: Key) -> Accepted:
        gateway: Gateway = request.app.state.gateway
        body = await _read_body(request, gw.max_body_bytes)
        _check_signature(gateway, key, request, body)
        kind = media_type(request.headers.get("content-type"))
        if kind not in (JSON, NDJSON):
            raise GatewayError(415, f"content type must be {JSON} or {NDJSON}, not {kind}")
        parsed = parse_body(body, kind)
        if parsed.detail is not None:
            raise GatewayError(422, parsed.detail, parsed.errors)
        if len(parsed.items) > gw.max_records:
            raise GatewayError(
                413, f"{len(parsed.items)} records; at most {gw.max_records} per request"
            )
        foreign = foreign_records(parsed.items, key.enterprise_id)
        if foreign:
            raise GatewayError(
                403,
                f"records {foreign[:20]} name another enterprise; this key may push only "
                f"{key.enterprise_id}'s logs",
                [(i, "enterprise_id", "not the enterprise of this key") for i in foreign],
            )
        received_at = datetime.fromtimestamp(gateway.clock(), UTC)
        records, errors = validate_records(parsed.items, received_at)
        if errors:
            bad = len({i for i, _, _ in errors})
            metrics.GATEWAY_RECORDS.labels("refused").inc(bad)
            raise GatewayError(422, f"{bad} of {len(parsed.items)} records are invalid", errors)
        try:
            result = await gateway.ingestor.ingest(key.enterprise_id, records)
        except BrokerUnavailableError as exc:
            raise GatewayError(
                503,
                f"broker unavailable, nothing accepted; retry ({exc})",
                headers={"Retry-After": "5"},
            ) from exc
        metrics.GATEWAY_RECORDS.labels("accepted").inc(result.accepted)
        metrics.GATEWAY_RECORDS.labels("duplicate").inc(result.duplicates)
        return Accepted(accepted=result.accepted, duplicates=result.duplicates)

    @app.get(
        "/v1/status",
        response_model=Status,
        responses={401: PUSH_RESPONSES[401], 429: PUSH_RESPONSES[429]},
        summary="The key's own enterprise: transfers, findings by rule, open findings, score",
    )
    async def status(request: Request, key: Key) -> Status:
        gateway: Gateway = request.app.state.gateway
        return Status.model_validate(enterprise_status(gateway.status_db, key.enterprise_id))

    @app.get("/healthz", response_model=Health, summary="The process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": Health, "description": "the broker is unreachable"}},
        summary="The broker answers",
    )
    async def readyz(request: Request) -> JSONResponse:
        gateway: Gateway = request.app.state.gateway
        ok = await gateway.ingestor.ready()
        return JSONResponse(
            Health(status="ok" if ok else "unavailable").model_dump(),
            status_code=200 if ok else 503,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            log_schema = TransferLog.model_json_schema(
                mode="validation", ref_template="#/components/schemas/{model}"
            )
            schemas.update(log_schema.pop("$defs", {}))
            schemas["TransferLog"] = log_schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise GatewayError(413, f"body of {declared} bytes; at most {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_signature(gateway: Gateway, key: ApiKey, request: Request, body: bytes) -> None:
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not key.require_signature and SIGNATURE_HEADER.lower() not in headers:
        return
    now = gateway.clock()
    check = check_signature(
        request.state.token, headers, body, now, gateway.settings.gateway.signature_window_s
    )
    if not check.ok:
        raise GatewayError(401, f"bad signature: {check.reason}")
    if not gateway.state.use_nonce(key.key_id, check.nonce, now):
        raise GatewayError(409, "replayed request: this nonce was already used")


async def _prune_periodically(gateway: Gateway) -> None:
    while True:
        gateway.state.prune(gateway.clock())
        await asyncio.sleep(PRUNE_INTERVAL_S)
