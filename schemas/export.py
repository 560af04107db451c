"""JSON Schema export of the contracts, for enterprises and probe vendors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from schemas import CONTRACTS

SCHEMA_BASE_URI = "https://xbmon.invalid/schemas/"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one contract, as validation of input sees it."""
    model = CONTRACTS[name]
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE_URI}{name}.schema.json",
        **schema,
    }


def write_json_schemas(directory: Path) -> list[Path]:
    """Write `<contract>.schema.json` for every contract; deterministic bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONTRACTS:
        path = directory / f"{name}.schema.json"
        path.write_bytes(
            orjson.dumps(json_schema(name), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            + b"\n"
        )
        written.append(path)
    return written
