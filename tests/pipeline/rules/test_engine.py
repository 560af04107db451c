"""The engine facade: reference updates, flow attribution and window closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pipeline.config import default_rules_config
from pipeline.rules.engine import ClosedWindow, Engine
from pipeline.rules.reference import ReferenceIndex
from schemas.models import EgressFlow, Enterprise, Filing, TransferLog

E1 = "91110000600037341L"
T0 = datetime(2025, 3, 3, 2, 15, tzinfo=UTC)


def enterprise(**over: Any) -> Enterprise:
    base = dict(
        enterprise_id=E1,
        name="Alpha",
        sector="other",
        region="beijing",
        is_ciio=False,
        egress_cidrs=["203.0.113.0/24"],
    )
    return Enterprise.model_validate({**base, **over})


def filing(**over: Any) -> Filing:
    base = dict(
        filing_id="F-1",
        enterprise_id=E1,
        kind="standard_contract",
        status="active",
        valid_from="2025-01-01T00:00:00Z",
    )
    return Filing.model_validate({**base, **over})


def log(transfer_id: str, ts: datetime = T0, **over: Any) -> TransferLog:
    base = dict(
        transfer_id=transfer_id,
        enterprise_id=E1,
        ts=ts.isoformat(),
        recipient="Acme GmbH",
        country="DE",
        categories=["pi.general"],
        subjects=10,
        sensitive_subjects=1,
        records=10,
        bytes=1_000,
        purpose="business",
        legal_basis="standard_contract",
        filing_ref="F-1",
    )
    return TransferLog.model_validate({**base, **over})


def flow(flow_id: str, nbytes: int, **over: Any) -> EgressFlow:
    base = dict(
        flow_id=flow_id,
        probe_id="p1",
        ts_start=T0.isoformat(),
        ts_end=(T0 + timedelta(seconds=5)).isoformat(),
        src_ip="203.0.113.9",
        dst_ip="198.51.100.7",
        dst_port=443,
        protocol="tcp",
        bytes_out=nbytes,
        bytes_in=0,
        packets=10,
        dst_country="DE",
    )
    return EgressFlow.model_validate({**base, **over})


def make_engine(geo: dict[str, str] | None = None) -> Engine:
    table = geo or {}

    def resolve(address: IPv4Address | IPv6Address) -> str | None:
        return table.get(str(address))

    reference = ReferenceIndex.build([enterprise()], [filing()], [])
    return Engine(reference, default_rules_config(), resolve)


def window_rules(closed: list[ClosedWindow]) -> list[str]:
    return [f.finding.rule_id for window in closed for f in window.findings]


def rules(findings: list[Any]) -> list[str]:
    return [f.finding.rule_id for f in findings]


def test_revoking_a_filing_changes_the_next_verdict() -> None:
    engine = make_engine()
    assert rules(engine.transfer(log("t1"))) == []
    engine.reference.upsert_filing(filing(status="revoked", revoked_at="2025-03-03T03:00:00Z"))
    assert rules(engine.transfer(log("t2", T0 + timedelta(hours=1)))) == ["XB-FILING-REVOKED"]


def test_duplicate_transfer_is_ignored_everywhere() -> None:
    engine = make_engine()
    engine.transfer(log("t1", bytes=5_000_000))
    assert engine.transfer(log("t1", bytes=5_000_000)) == []
    # One byte over 1.2 x 5 MB + 10 MiB: undeclared only if the duplicate was not declared twice.
    assert engine.flow(flow("f1", 6_000_000 + 10_485_760 + 1)) == "reconciled"
    assert window_rules(engine.close_all()) == ["XB-UNDECLARED-EGRESS"]


def test_flow_outcomes() -> None:
    engine = make_engine(geo={"8.8.8.8": "US", "114.114.114.114": "CN"})
    assert engine.flow(flow("a", 1, src_ip="192.0.2.1")) == "unattributed"
    assert engine.flow(flow("b", 1, dst_country=None, dst_ip="114.114.114.114")) == "domestic"
    assert engine.flow(flow("c", 1, dst_country=None, dst_ip="10.0.0.1")) == "unresolved_country"
    assert engine.flow(flow("d", 1, dst_country=None, dst_ip="8.8.8.8")) == "reconciled"
    assert engine.flow(flow("e", 1, dst_country="CN")) == "domestic"
    assert ("US", datetime(2025, 3, 3, 2, tzinfo=UTC)) in engine.states[E1].windows


def test_windows_close_after_the_grace_period_only() -> None:
    engine = make_engine()
    engine.flow(flow("big", 50_000_000))
    window_end = datetime(2025, 3, 3, 3, tzinfo=UTC)
    assert engine.close_windows(window_end + timedelta(hours=23, minutes=59)) == []
    closed = engine.close_windows(window_end + timedelta(hours=24))
    assert window_rules(closed) == ["XB-UNDECLARED-EGRESS"]
    assert closed[0].findings[0].finding.ts == datetime(2025, 3, 3, 2, tzinfo=UTC)
    assert closed[0].aggregate.observed_bytes == 50_000_000
    assert engine.states[E1].windows == {}


def test_finding_evidence_hash_matches_its_bundle() -> None:
    from pipeline.rules.evidence import evidence_hash

    engine = make_engine()
    engine.reference.upsert_filing(filing(recipients=["Acme GmbH"]))
    (found,) = engine.transfer(log("t1", recipient="Other Ltd"))
    assert found.finding.rule_id == "XB-SCOPE-RECIPIENT"
    assert found.finding.evidence_hash == evidence_hash(found.bundle)
    assert found.bundle["transfer"]["transfer_id"] == "t1"
    assert found.bundle["parameters"]["version"] == default_rules_config().version


def test_evidence_json_of_reference_data_follows_every_update() -> None:
    ref = ReferenceIndex()
    first, second = enterprise(name="Alpha"), enterprise(name="Alpha Renamed")
    ref.upsert_enterprise(first)
    dumped = ref.json_of(first)
    assert dumped == first.model_dump(mode="json") and dumped["egress_cidrs"] == ["203.0.113.0/24"]
    assert ref.json_of(first) is dumped  # dumped once while it is the indexed version
    ref.upsert_enterprise(second)
    assert ref.json_of(second)["name"] == "Alpha Renamed"
    f1 = filing()
    ref.upsert_filing(f1)
    assert ref.json_of(f1)["valid_from"] == "2025-01-01T00:00:00Z"
    ref.remove_filing("F-1")
    revoked = filing(status="revoked")
    assert ref.json_of(revoked)["status"] == "revoked"
