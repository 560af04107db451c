"""The gateway's OpenAPI document, as served on /openapi.json and committed for clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from pipeline.gateway.app import create_app
from pipeline.settings import Settings

COMMITTED = Path(__file__).parents[2] / "schemas" / "openapi" / "gateway.json"


def openapi_document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def openapi_bytes() -> bytes:
    """Deterministic bytes (sorted keys, indented) for the committed copy."""
    return (
        orjson.dumps(openapi_document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
