"""The exported JSON Schemas agree with the models and the committed copies are current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemas import CONTRACTS
from schemas.export import json_schema, write_json_schemas

COMMITTED = Path(__file__).parents[2] / "schemas" / "json"

VALID_LOG: dict[str, Any] = {
    "transfer_id": "t-1",
    "enterprise_id": "91110000600037341L",
    "ts": "2025-01-01T08:00:00+08:00",
    "recipient": "Acme GmbH",
    "country": "DE",
    "categories": ["pi.general"],
    "subjects": 10,
    "sensitive_subjects": 0,
    "records": 10,
    "bytes": 2048,
    "purpose": "business",
    "legal_basis": "standard_contract",
}


def test_committed_schemas_are_current(tmp_path: Path) -> None:
    for path in write_json_schemas(tmp_path):
        committed = COMMITTED / path.name
        assert committed.exists(), f"run `xbmon schema export schemas/json` ({path.name})"
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} is stale"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema(name))


def test_schema_accepts_what_the_model_accepts() -> None:
    validator = jsonschema.Draft202012Validator(json_schema("transfer_log"))
    assert list(validator.iter_errors(VALID_LOG)) == []
    CONTRACTS["transfer_log"].model_validate(VALID_LOG)


@pytest.mark.parametrize(
    "change",
    [
        {"unknown": 1},
        {"subjects": "10"},
        {"subjects": -1},
        {"country": "CN"},
        {"country": "de"},
        {"enterprise_id": "91110000600037341l"},
        {"categories": []},
        {"purpose": "fun"},
    ],
)
def test_schema_rejects_what_the_model_rejects(change: dict[str, Any]) -> None:
    record = {**VALID_LOG, **change}
    validator = jsonschema.Draft202012Validator(json_schema("transfer_log"))
    assert list(validator.iter_errors(record)), f"schema accepted {change}"
    with pytest.raises(ValueError):
        CONTRACTS["transfer_log"].model_validate(record)
