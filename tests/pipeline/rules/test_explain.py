from __future__ import annotations

from typing import get_args

import pytest

from pipeline.rules.explain import explain
from schemas.types import RuleId

CONTEXT = {
    "enterprise_id": "91110000600037341L",
    "transfer_id": "t-1",
    "recipient": "Acme GmbH",
    "country": "DE",
    "purpose": "research",
    "categories": "pi.general, pi.sensitive.health",
    "path": "contract_or_certification",
    "filings": "F-1",
    "items": "beijing-ftz-2024/auto-01",
    "used": 120_000,
    "limit": 100_000,
    "measure": "subjects",
    "threshold": 100_000,
    "total": 100_500,
    "legal_basis": "exempt",
    "filing_ref": "F-9",
    "reasons": "claims_exempt",
    "observed": 30_000_000,
    "declared": 1_000,
    "window": "2025-01-01T02:00:00Z",
    "delay_hours": 30.5,
    "deadline_hours": 24.0,
    "end": "2025-02-01T00:00:00Z",
}


@pytest.mark.parametrize("rule_id", get_args(RuleId))
def test_every_rule_explains_in_english_and_chinese(rule_id: RuleId) -> None:
    english, chinese = explain(rule_id, CONTEXT)
    assert CONTEXT["enterprise_id"] in english and CONTEXT["enterprise_id"] in chinese
    assert english.endswith(".") and "{" not in english
    assert chinese.endswith("。") and "{" not in chinese
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
