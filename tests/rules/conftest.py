"""Builders for the rule-level oracle tests (spec/contracts.md).

Everything here is written from the contract only: tests talk to the engine exclusively through
`pipeline.replay.replay_records` / `replay_dir` and the `xbmon replay` CLI.

Every test takes the `xb` fixture (or the individual `make_*` / `run` fixtures, which are the
same callables) so that scenarios stay a few lines long:

    def test_x(xb):
        findings = xb.run(logs=[xb.log(subjects=100_000)])
        assert xb.pairs(findings) == [("XB-PATH-MISSING", "t1"), ("XB-THRESHOLD-CROSSED", "t1")]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import uscc

from schemas.models import EgressFlow, Enterprise, Filing, Finding, NegativeListEntry, TransferLog


def make_uscc(first17: str) -> str:
    """A valid USCC: the 17 given characters plus their GB 32100 check character."""
    return first17 + uscc.calc_check_digit(first17)


# Severities exactly as the contract's rule catalogue fixes them (not read from the config).
CONTRACT_SEVERITY = {
    "XB-PATH-MISSING": "high",
    "XB-PATH-INSUFFICIENT": "high",
    "XB-NEGLIST-HIT": "high",
    "XB-FILING-EXPIRED": "high",
    "XB-FILING-REVOKED": "critical",
    "XB-SCOPE-RECIPIENT": "medium",
    "XB-SCOPE-COUNTRY": "medium",
    "XB-SCOPE-CATEGORY": "medium",
    "XB-SCOPE-PURPOSE": "medium",
    "XB-VOLUME-EXCEEDED": "high",
    "XB-THRESHOLD-CROSSED": "low",
    "XB-DECLARED-BASIS-INVALID": "medium",
    "XB-UNDECLARED-EGRESS": "high",
    "XB-DLP-MISMATCH": "medium",
    "XB-LATE-DECLARATION": "low",
    "XB-FILING-EXPIRING": "info",
}

MIB10 = 10_485_760


def parse_ts(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).astimezone(UTC)


class XB:
    """Factories and helpers shared by every rule test."""

    # Three valid USCCs. A is the default exporter; C is never put in the reference data by
    # default (used for "enterprise missing from reference data").
    A = make_uscc("91110000600037341")  # ...L
    B = make_uscc("91310000MA1FL0001")
    C = make_uscc("91440300MA5F00002")

    SEVERITY = CONTRACT_SEVERITY
    MIB10 = MIB10

    # ---------------------------------------------------------------- builders
    @staticmethod
    def enterprise(enterprise_id: str | None = None, **kw: Any) -> Enterprise:
        data: dict[str, Any] = {
            "enterprise_id": enterprise_id or XB.A,
            "name": "Acme Trading Co.",
            "sector": "retail",
            "region": "beijing",
            "ftz": None,
            "is_ciio": False,
            "egress_cidrs": [],
        }
        data.update(kw)
        return Enterprise.model_validate(data)

    @staticmethod
    def filing(filing_id: str = "f1", kind: str = "standard_contract", **kw: Any) -> Filing:
        data: dict[str, Any] = {
            "filing_id": filing_id,
            "enterprise_id": XB.A,
            "kind": kind,
            "status": "active",
            "valid_from": "2020-01-01T00:00:00+08:00",
            "valid_until": "2030-01-01T00:00:00+08:00",
            "revoked_at": None,
            "recipients": [],
            "countries": [],
            "categories": [],
            "purposes": [],
            "max_subjects": None,
        }
        data.update(kw)
        return Filing.model_validate(data)

    @staticmethod
    def entry(item_id: str = "i1", **kw: Any) -> NegativeListEntry:
        data: dict[str, Any] = {
            "list_id": "beijing-ftz-2024",
            "ftz": "beijing",
            "sector": "automobile",
            "item_id": item_id,
            "categories": ["auto.trajectory"],
            "description": "vehicle trajectory data",
            "required_path": "security_assessment",
            "min_subjects": None,
            "region": None,
            "effective_from": None,
            "effective_until": None,
        }
        data.update(kw)
        return NegativeListEntry.model_validate(data)

    @staticmethod
    def log(transfer_id: str = "t1", **kw: Any) -> TransferLog:
        data: dict[str, Any] = {
            "transfer_id": transfer_id,
            "enterprise_id": XB.A,
            "ts": "2025-03-03T10:00:00Z",
            "recipient": "acme-us",
            "country": "US",
            "categories": ["pi.general"],
            "subjects": 10,
            "sensitive_subjects": 0,
            "records": 10,
            "bytes": 1000,
            "purpose": "business",
            "legal_basis": "standard_contract",
            "filing_ref": None,
            "dst_hosts": [],
            "received_at": None,
        }
        data.update(kw)
        return TransferLog.model_validate(data)

    @staticmethod
    def flow(flow_id: str = "fl1", **kw: Any) -> EgressFlow:
        data: dict[str, Any] = {
            "flow_id": flow_id,
            "probe_id": "p1",
            "ts_start": "2025-03-03T10:20:00Z",
            "src_ip": "10.1.0.5",
            "dst_ip": "203.0.113.9",
            "dst_port": 443,
            "protocol": "tcp",
            "bytes_out": 0,
            "bytes_in": 0,
            "packets": 1,
            "sni": None,
            "enterprise_id": None,
            "dst_country": "US",
            "dlp_categories": [],
        }
        data.update(kw)
        if "ts_end" not in data:
            data["ts_end"] = parse_ts(data["ts_start"]) + timedelta(seconds=30)
        return EgressFlow.model_validate(data)

    # ---------------------------------------------------------------- running
    @staticmethod
    def run(
        enterprises: Iterable[Enterprise] | None = None,
        filings: Iterable[Filing] = (),
        entries: Iterable[NegativeListEntry] = (),
        logs: Iterable[TransferLog] = (),
        flows: Iterable[EgressFlow] = (),
        config: Any = None,
    ) -> list[Finding]:
        from pipeline.replay import replay_records

        if enterprises is None:
            enterprises = [XB.enterprise()]
        findings = replay_records(
            list(enterprises), list(filings), list(entries), list(logs), list(flows), config=config
        )
        return list(findings)

    # ---------------------------------------------------------------- assertions
    @staticmethod
    def pairs(findings: Iterable[Finding]) -> list[tuple[str, str | None]]:
        """(rule_id, transfer_id) of every finding, in a canonical order (multiset)."""
        return sorted(
            ((f.rule_id, f.transfer_id) for f in findings), key=lambda p: (p[0], p[1] or "")
        )

    @staticmethod
    def only(findings: Iterable[Finding], rule_id: str, transfer_id: str | None = "*") -> Finding:
        """The single finding of `rule_id` (and transfer_id, unless '*')."""
        hits = [
            f
            for f in findings
            if f.rule_id == rule_id and (transfer_id == "*" or f.transfer_id == transfer_id)
        ]
        assert len(hits) == 1, f"expected one {rule_id} ({transfer_id}), got {hits}"
        return hits[0]

    @staticmethod
    def ts(value: str) -> datetime:
        return parse_ts(value)

    @staticmethod
    def check_severities(findings: Iterable[Finding]) -> None:
        for f in findings:
            assert f.severity == CONTRACT_SEVERITY[f.rule_id], (f.rule_id, f.severity)

    # ---------------------------------------------------------------- replay files
    @staticmethod
    def write_dir(
        directory: Path,
        enterprises: Iterable[Enterprise] = (),
        filings: Iterable[Filing] = (),
        entries: Iterable[NegativeListEntry] = (),
        logs: Iterable[TransferLog | str] = (),
        flows: Iterable[EgressFlow] | None = None,
    ) -> Path:
        """Write the replay JSONL files; a `str` item in `logs` is written verbatim (bad line)."""
        directory.mkdir(parents=True, exist_ok=True)

        def dump(name: str, items: Iterable[Any]) -> None:
            lines = []
            for item in items:
                if isinstance(item, str):
                    lines.append(item)
                else:
                    lines.append(json.dumps(item.model_dump(mode="json"), sort_keys=True))
            text = "".join(line + "\n" for line in lines)
            (directory / name).write_text(text, encoding="utf-8")

        dump("enterprises.jsonl", enterprises)
        dump("filings.jsonl", filings)
        dump("negative_list.jsonl", entries)
        dump("transfer_logs.jsonl", logs)
        if flows is not None:
            dump("flows.jsonl", flows)
        return directory


@pytest.fixture
def xb() -> type[XB]:
    return XB


@pytest.fixture
def make_enterprise():
    return XB.enterprise


@pytest.fixture
def make_filing():
    return XB.filing


@pytest.fixture
def make_entry():
    return XB.entry


@pytest.fixture
def make_log():
    return XB.log


@pytest.fixture
def make_flow():
    return XB.flow


@pytest.fixture
def run():
    return XB.run
