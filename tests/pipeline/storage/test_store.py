"""The evidence store contract, run against every backend that is available.

chDB always runs. A ClickHouse server runs when `XBMON_TEST_CLICKHOUSE_HOST` (and optionally
`_PORT`, `_USER`, `_PASSWORD`, `_SECURE`) names one that accepts connections; otherwise those
cases are skipped with the reason, never faked.

Every test works in a database of its own (`xbmon_test_<random>`) that is dropped afterwards.
chDB runs one engine per process on one directory, so the chDB cases share the directory of
whatever session is already open in this pytest process (another module's) or a temporary
one, and isolate by database.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from stdnum.cn import uscc

from pipeline.rules import ENGINE_VERSION
from pipeline.rules.evidence import canonical_json, evidence_hash, finding_id
from pipeline.rules.findings import EvaluatedFinding
from pipeline.rules.state import WindowAggregate
from pipeline.settings import ClickHouseSettings, Settings
from pipeline.storage import (
    EvidenceStore,
    MigrationError,
    StoreError,
    StoreUnavailableError,
    chdb_store,
    deadletter_raw,
    deadletter_row,
    fetch_deadletters,
    fetch_evaluated_findings,
    fetch_findings,
    fetch_transfers,
    fetch_windows,
    finding_row,
    open_store,
    transfer_row,
    window_row,
)
from pipeline.storage import base as store_base
from pipeline.storage.chdb_store import ChdbStore
from pipeline.storage.migrations import default_source, discover, render
from pipeline.storage.sql import param_text, split_statements
from schemas.models import Finding, TransferLog

RETENTION = 3 * 366
TTL_COLUMNS = {
    "transfers": "ingested_at",
    "flow_windows": "inserted_at",
    "findings": "inserted_at",
    "deadletters": "received_at",
}
SERVER_ENV = "XBMON_TEST_CLICKHOUSE_HOST"


def make_uscc(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


E1 = make_uscc("91110000600037341")
E2 = make_uscc("91310000MA1FL0000")
T0 = datetime(2024, 3, 31, 23, 59, 59, 123456, tzinfo=UTC)


# -- backends -----------------------------------------------------------------------------


def server_settings(database: str, retention_days: int) -> ClickHouseSettings:
    host = os.environ.get(SERVER_ENV)
    if not host:
        pytest.skip(f"{SERVER_ENV} is not set: no ClickHouse server to test against")
    port = int(os.environ.get("XBMON_TEST_CLICKHOUSE_PORT", "8123"))
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        pytest.skip(f"ClickHouse server {host}:{port} from {SERVER_ENV} is not reachable: {exc}")
    return ClickHouseSettings(
        backend="server",
        host=host,
        port=port,
        username=os.environ.get("XBMON_TEST_CLICKHOUSE_USER", "default"),
        password=os.environ.get("XBMON_TEST_CLICKHOUSE_PASSWORD", ""),
        secure=os.environ.get("XBMON_TEST_CLICKHOUSE_SECURE", "") in {"1", "true"},
        database=database,
        retention_days=retention_days,
    )


@pytest.fixture(scope="module")
def chdb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb-root")


StoreFactory = Callable[..., EvidenceStore]


@pytest.fixture(params=["chdb", "server"])
def make_store(request: pytest.FixtureRequest, chdb_root: Path) -> Iterator[StoreFactory]:
    """Opens stores of the parametrised backend; drops their databases and closes them."""
    backend: str = request.param
    opened: list[EvidenceStore] = []

    def make(database: str | None = None, retention_days: int = RETENTION) -> EvidenceStore:
        name = database or f"xbmon_test_{uuid.uuid4().hex[:12]}"
        store: EvidenceStore
        if backend == "chdb":
            active = chdb_store.active_path()
            data_dir = active.parent if active is not None else chdb_root
            store = ChdbStore(data_dir, name, retention_days)
        else:
            from pipeline.storage.server_store import ServerStore

            store = ServerStore(server_settings(name, retention_days))
        opened.append(store)
        return store

    if backend == "server":
        server_settings("probe", RETENTION)  # skip early when there is no server
    yield make
    dropped: set[str] = set()
    for store in reversed(opened):
        if store.database not in dropped:
            store.query("DROP DATABASE IF EXISTS {database:Identifier}")
            dropped.add(store.database)
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> EvidenceStore:
    opened = make_store()
    opened.ensure_schema()
    return opened


def count(store: EvidenceStore, table: str, final: bool = False) -> int:
    sql = "SELECT count() AS n FROM {database:Identifier}.{table:Identifier}"
    rows = store.query(sql + (" FINAL" if final else ""), {"table": table})
    return int(rows[0]["n"])


# -- data ---------------------------------------------------------------------------------


def evaluated(
    n: int,
    *,
    enterprise_id: str = E1,
    rule_id: str = "XB-PATH-MISSING",
    ts: datetime = T0,
    window: bool = False,
) -> EvaluatedFinding:
    """A finding shaped like the engine's, with a real canonical bundle and hash."""
    transfer_id = None if window else f"t-{n}"
    about: tuple[str, ...] = ("US", ts.isoformat()) if window else (f"t-{n}",)
    bundle: dict[str, Any] = {
        "engine_version": ENGINE_VERSION,
        "rule_id": rule_id,
        "enterprise_id": enterprise_id,
        "about": list(about),
        "parameters": {"thresholds": {"contract": 100_000}, "tolerance_ratio": 1.2},
        "transfer": {"transfer_id": transfer_id, "ts": ts.isoformat(), "bytes": 2**40 + n},
        "note": "个人信息 'quoted' \"double\" \\ back\tslash {x:String}",
    }
    finding = Finding(
        finding_id=finding_id(rule_id, enterprise_id, *about),
        rule_id=rule_id,  # type: ignore[arg-type]
        severity="high",
        enterprise_id=enterprise_id,
        transfer_id=transfer_id,
        ts=ts,
        required_path=None if window else "security_assessment",
        filing_ids=[] if window else ["f-2", "f-1'; DROP TABLE findings; --"],
        explanation=f"Transfer t-{n} needs a security assessment.",
        explanation_zh=f"传输 t-{n} 需要安全评估。",
        evidence_hash=evidence_hash(bundle),
    )
    return EvaluatedFinding(finding=finding, bundle=bundle)


def sample_findings() -> list[EvaluatedFinding]:
    return [
        evaluated(1),
        evaluated(2, ts=T0 + timedelta(microseconds=1)),  # next month, another partition
        evaluated(3, enterprise_id=E2, rule_id="XB-FILING-REVOKED", ts=T0 - timedelta(days=40)),
        evaluated(4, rule_id="XB-UNDECLARED-EGRESS", window=True),
    ]


def transfer_log(n: int, **changes: Any) -> TransferLog:
    data: dict[str, Any] = {
        "transfer_id": f"t-{n}",
        "enterprise_id": E1,
        "ts": "2024-05-01T08:00:00.654321+08:00",
        "recipient": "Acme GmbH 'Berlin'",
        "country": "DE",
        "categories": ["pi.general", "pi.sensitive.health"],
        "subjects": 150_000,
        "sensitive_subjects": 3,
        "records": 2**53 + 1,
        "bytes": 2**63 - 1,
        "purpose": "research",
        "legal_basis": "standard_contract",
        "filing_ref": "f-1",
        "dst_hosts": ["203.0.113.7", "eu.example.com"],
        "received_at": "2024-05-02T09:00:00Z",
    }
    data.update(changes)
    return TransferLog.model_validate(data)


# -- schema -------------------------------------------------------------------------------


def test_ensure_schema_is_idempotent_and_recorded(make_store: StoreFactory) -> None:
    store = make_store()
    files = discover()
    assert store.ensure_schema() == [m.name for m in files]
    assert store.ensure_schema() == []
    ledger = store.query(
        "SELECT version, name, sha256, retention_days FROM {database:Identifier}.schema_migrations"
        " ORDER BY version"
    )
    on_disk = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in default_source().iterdir()
        if p.name.endswith(".sql")
    }
    assert [(r["name"], r["sha256"]) for r in ledger] == sorted(on_disk.items())
    assert [r["version"] for r in ledger] == list(range(len(on_disk)))
    assert {r["retention_days"] for r in ledger} == {RETENTION}
    tables = store.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String} ORDER BY name",
        {"db": store.database},
    )
    assert {t["name"]: t["engine"] for t in tables} == {
        "alert_actions": "MergeTree",  # append-only responder actions
        "alerts": "ReplacingMergeTree",
        "deadletters": "ReplacingMergeTree",
        "enterprises": "ReplacingMergeTree",  # reference register (008)
        "filings": "ReplacingMergeTree",
        "findings": "ReplacingMergeTree",
        "scores": "ReplacingMergeTree",
        "flow_windows": "ReplacingMergeTree",
        "schema_migrations": "ReplacingMergeTree",
        "transfers": "ReplacingMergeTree",
        "evidence_leaves": "MergeTree",  # the append-only Merkle log
        "tree_heads": "MergeTree",
    }


def test_the_tables_written_every_poll_merge_less_eagerly(make_store: StoreFactory) -> None:
    store = make_store()
    store.ensure_schema()
    tables = store.query(
        "SELECT name, engine_full FROM system.tables WHERE database = {db:String}",
        {"db": store.database},
    )
    policy = {t["name"] for t in tables if "merge_selector_base = 10" in t["engine_full"]}
    assert policy == {"transfers", "flow_windows", "findings", "deadletters", "alerts", "scores"}


def copy_migrations(target: Path) -> Path:
    target.mkdir()
    for entry in default_source().iterdir():
        if entry.name.endswith(".sql"):
            (target / entry.name).write_bytes(entry.read_bytes())
    return target


def test_changed_applied_migration_is_refused(make_store: StoreFactory, tmp_path: Path) -> None:
    source = copy_migrations(tmp_path / "ddl")
    store = make_store()
    store.ensure_schema(discover(source))
    findings_ddl = source / "003_findings.sql"
    findings_ddl.write_text(findings_ddl.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match=r"003_findings\.sql changed after it was applied"):
        store.ensure_schema(discover(source))


def test_new_migration_applies_once_and_unknown_applied_is_refused(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    source = copy_migrations(tmp_path / "ddl")
    store = make_store()
    store.ensure_schema(discover(source))
    next_number = len(discover(source))
    (source / f"{next_number:03d}_findings_by_rule.sql").write_text(
        "ALTER TABLE {database:Identifier}.findings\n"
        "    ADD INDEX IF NOT EXISTS rule_set rule_id TYPE set(100) GRANULARITY 4;\n"
    )
    assert store.ensure_schema(discover(source)) == [f"{next_number:03d}_findings_by_rule.sql"]
    assert store.ensure_schema(discover(source)) == []
    (source / f"{next_number:03d}_findings_by_rule.sql").unlink()
    with pytest.raises(MigrationError, match="does not know"):
        store.ensure_schema(discover(source))


def test_retention_change_without_migration_is_refused(make_store: StoreFactory) -> None:
    first = make_store()
    first.ensure_schema()
    again = make_store(database=first.database, retention_days=RETENTION + 365)
    with pytest.raises(MigrationError, match=f"keeps {RETENTION} days"):
        again.ensure_schema()


def test_retention_change_goes_through_a_migration(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    source = copy_migrations(tmp_path / "ddl")
    first = make_store()
    first.ensure_schema(discover(source))
    number = len(discover(source))
    (source / f"{number:03d}_retention.sql").write_text(
        "".join(
            f"ALTER TABLE {{database:Identifier}}.{table}\n"
            f"    MODIFY TTL toDateTime({column}) + toIntervalDay({{{{retention_days}}}});\n"
            for table, column in TTL_COLUMNS.items()
        )
    )
    longer = RETENTION + 365
    again = make_store(database=first.database, retention_days=longer)
    with pytest.raises(MigrationError, match=f"keeps {RETENTION} days"):
        again.ensure_schema(discover(source)[:-1])
    assert again.ensure_schema(discover(source)) == [f"{number:03d}_retention.sql"]
    assert again.ensure_schema(discover(source)) == []
    for table, column in TTL_COLUMNS.items():
        rows = again.query("SHOW CREATE TABLE {database:Identifier}.{t:Identifier}", {"t": table})
        assert f"TTL toDateTime({column}) + toIntervalDay({longer})" in rows[0]["statement"]


def test_ttl_and_dedup_window_in_show_create_table(store: EvidenceStore) -> None:
    for table, column in TTL_COLUMNS.items():
        rows = store.query("SHOW CREATE TABLE {database:Identifier}.{t:Identifier}", {"t": table})
        statement = rows[0]["statement"]
        assert f"TTL toDateTime({column}) + toIntervalDay({RETENTION})" in statement
        assert "non_replicated_deduplication_window = 10000" in statement
        assert "ReplacingMergeTree" in statement
        assert "PARTITION BY toYYYYMM(" in statement


def test_default_retention_is_at_least_three_years() -> None:
    assert ClickHouseSettings().retention_days >= 3 * 365
    with pytest.raises(ValueError):
        ClickHouseSettings(retention_days=365)


# -- round trips --------------------------------------------------------------------------


def test_findings_round_trip(store: EvidenceStore) -> None:
    originals = sample_findings()
    assert store.insert("findings", [finding_row(f) for f in originals]) == len(originals)
    expected = sorted((f.finding for f in originals), key=lambda f: (f.ts, f.rule_id, f.finding_id))
    assert fetch_findings(store) == expected
    back = {e.finding.finding_id: e for e in fetch_evaluated_findings(store)}
    for original in originals:
        stored = back[original.finding.finding_id]
        assert stored.finding == original.finding
        assert stored.bundle == original.bundle
    rows = store.query(
        "SELECT finding_id, bundle, evidence_hash, engine_version"
        " FROM {database:Identifier}.findings"
    )
    for row in rows:
        assert hashlib.sha256(row["bundle"].encode()).hexdigest() == row["evidence_hash"]
        assert row["engine_version"] == ENGINE_VERSION


def test_fetch_findings_filters(store: EvidenceStore) -> None:
    originals = sample_findings()
    store.insert("findings", [finding_row(f) for f in originals])
    assert {f.enterprise_id for f in fetch_findings(store, enterprise_id=E2)} == {E2}
    assert [f.rule_id for f in fetch_findings(store, rule_id="XB-UNDECLARED-EGRESS")] == [
        "XB-UNDECLARED-EGRESS"
    ]
    april = fetch_findings(store, since=T0 + timedelta(microseconds=1))
    assert [f.transfer_id for f in april] == ["t-2"]
    march = fetch_findings(
        store, since=T0 - timedelta(days=1), until=T0 + timedelta(microseconds=1)
    )
    assert {f.transfer_id for f in march} == {"t-1", None}
    wanted = [originals[0].finding.finding_id, originals[2].finding.finding_id]
    assert {f.finding_id for f in fetch_findings(store, finding_ids=wanted)} == set(wanted)
    assert len(fetch_findings(store, limit=2)) == 2
    assert fetch_findings(store, limit=0) == []


def test_transfers_round_trip(store: EvidenceStore) -> None:
    logs = [
        transfer_log(1),
        transfer_log(2, filing_ref=None, received_at=None, dst_hosts=[], categories=["x.y"]),
    ]
    stamp = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    rows = [
        transfer_row(
            logs[0],
            source_topic="transfer.logs",
            source_partition=3,
            source_offset=41,
            required_path="contract_or_certification",
            ingested_at=stamp,
        ),
        transfer_row(logs[1], source_topic="transfer.logs", source_partition=3, source_offset=42),
    ]
    store.insert("transfers", rows, dedup_token="transfer.logs:3:41-42")
    stored = fetch_transfers(store, enterprise_id=E1)
    assert [
        TransferLog.model_validate({k: r[k] for k in TransferLog.model_fields}) for r in stored
    ] == logs
    assert stored[0]["required_path"] == "contract_or_certification"
    assert stored[1]["required_path"] is None
    assert [(r["source_topic"], r["source_partition"], r["source_offset"]) for r in stored] == [
        ("transfer.logs", 3, 41),
        ("transfer.logs", 3, 42),
    ]
    assert stored[0]["ingested_at"] == stamp
    assert stored[1]["ingested_at"].tzinfo is UTC  # stamped by the database
    assert fetch_transfers(store, enterprise_id=E2) == []


def test_windows_round_trip_and_reclose(store: EvidenceStore) -> None:
    start = datetime(2024, 5, 1, 8, tzinfo=UTC)
    aggregate = WindowAggregate()
    aggregate.declare(1_000, ["pi.general"])
    aggregate.observe(50_000_000, 3, ["pi.sensitive.health", "important.geo"])
    first = window_row(E1, "US", start, aggregate, closed_at=datetime(2024, 5, 2, 9, tzinfo=UTC))
    store.insert("flow_windows", [first])
    aggregate.declare(2_000, ["pi.sensitive"])  # a late log: the window closes again
    closed_again = datetime(2024, 5, 2, 10, tzinfo=UTC)
    store.insert("flow_windows", [window_row(E1, "US", start, aggregate, closed_at=closed_again)])
    assert fetch_windows(store) == [
        {
            "enterprise_id": E1,
            "country": "US",
            "window_start": start,
            "declared_bytes": 3_000,
            "declared_logs": 2,
            "declared_categories": ["pi.general", "pi.sensitive"],
            "observed_bytes": 50_000_000,
            "observed_flows": 3,
            "observed_dlp": ["important.geo", "pi.sensitive.health"],
            "closed_at": closed_again,
        }
    ]


def test_deadletters_round_trip(store: EvidenceStore) -> None:
    received = datetime(2024, 5, 1, tzinfo=UTC)
    raws = [b'{"transfer_id": 1, "note": "\xe4\xb8\xad"}', b"\xff\xfe not utf-8 \x00", "text"]
    rows = [
        deadletter_row(
            source_topic="transfer.logs",
            source_partition=0,
            source_offset=7,
            index_in_batch=i,
            reason=f"bad record {i}: 'x'",
            raw=raw,
            received_at=received,
        )
        for i, raw in enumerate(raws)
    ]
    store.insert("deadletters", rows)
    stored = fetch_deadletters(store, source_topic="transfer.logs")
    assert [r["index_in_batch"] for r in stored] == [0, 1, 2]
    assert [r["raw_encoding"] for r in stored] == ["utf-8", "base64", "utf-8"]
    assert [deadletter_raw(r) for r in stored] == [raws[0], raws[1], b"text"]
    assert stored[1]["raw"] == base64.b64encode(raws[1]).decode()
    assert stored[0]["reason"] == "bad record 0: 'x'"
    assert stored[0]["received_at"] == received
    assert fetch_deadletters(store, source_topic="egress.flows") == []


# -- exactly once -------------------------------------------------------------------------


def test_same_batch_same_token_is_stored_once(store: EvidenceStore) -> None:
    rows = [finding_row(f) for f in sample_findings()]
    token = "findings:2:1000-1003"
    for _ in range(3):
        store.insert("findings", rows, dedup_token=token)
    assert count(store, "findings") == len(rows)  # raw count: no FINAL, no merge needed
    store.insert("findings", rows[:1], dedup_token=token)  # the token alone identifies it
    assert count(store, "findings") == len(rows)


def test_same_rows_without_token_are_stored_once(store: EvidenceStore) -> None:
    # inserted_at comes from a server default and differs per send; the content token the
    # store derives from the payload still deduplicates a retried batch.
    rows = [finding_row(f) for f in sample_findings()]
    store.insert("findings", rows)
    store.insert("findings", rows)
    assert count(store, "findings") == len(rows)


def test_redelivered_finding_in_another_batch_is_read_once(store: EvidenceStore) -> None:
    a, b, c = sample_findings()[:3]
    store.insert("findings", [finding_row(a), finding_row(b)], dedup_token="findings:0:10-11")
    store.insert("findings", [finding_row(b), finding_row(c)], dedup_token="findings:0:11-12")
    assert count(store, "findings") == 4  # both copies of b are on disk until a merge
    assert sorted(f.finding_id for f in fetch_findings(store)) == sorted(
        e.finding.finding_id for e in (a, b, c)
    )
    assert count(store, "findings", final=True) == 3
    store.query("OPTIMIZE TABLE {database:Identifier}.findings FINAL")
    assert count(store, "findings") == 3


def test_redelivered_transfer_is_read_once(store: EvidenceStore) -> None:
    log = transfer_log(1)
    for offset in (5, 9):  # the same log redelivered at another offset
        row = transfer_row(
            log, source_topic="transfer.logs", source_partition=1, source_offset=offset
        )
        store.insert("transfers", [row], dedup_token=f"transfer.logs:1:{offset}")
    assert count(store, "transfers") == 2
    stored = fetch_transfers(store)
    assert len(stored) == 1
    assert stored[0]["source_offset"] in {5, 9}


def test_large_batches_go_in_chunks_each_deduplicated(
    store: EvidenceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_base, "MAX_ROWS_PER_INSERT", 3)
    rows = [finding_row(evaluated(n)) for n in range(10)]
    store.insert("findings", rows, dedup_token="findings:1:0-9")
    store.insert("findings", rows, dedup_token="findings:1:0-9")
    assert count(store, "findings") == 10


# -- parameters are values ----------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE findings; --",
    "x' OR '1'='1",
    'double "quotes" and `backticks`',
    "back\\slash \\N \\' \\\\",
    "tab\tnew\nline\rcr\0nul",
    "{database:Identifier} {x:String}",
    "中文 😀",
    "",
]


def test_parameters_are_values(store: EvidenceStore) -> None:
    for value in HOSTILE:
        rows = store.query(
            "SELECT {v:String} AS v, {n:Nullable(String)} AS n, {a:Array(String)} AS a",
            {"v": value, "n": value, "a": [value, value]},
        )
        assert rows == [{"v": value, "n": value, "a": [value, value]}]
    assert store.query("SELECT {n:Nullable(String)} IS NULL AS is_null", {"n": None}) == [
        {"is_null": True}
    ]
    store.insert("findings", [finding_row(f) for f in sample_findings()])
    for value in HOSTILE:
        assert fetch_findings(store, enterprise_id=value) == []
        assert fetch_findings(store, finding_ids=[value]) == []
    assert len(fetch_findings(store)) == 4  # the table is intact


def test_identifier_parameter_cannot_smuggle_sql(store: EvidenceStore) -> None:
    with pytest.raises(StoreError):
        store.query(
            "SELECT count() FROM {database:Identifier}.{t:Identifier}",
            {"t": "findings; DROP TABLE findings"},
        )
    assert count(store, "findings") == 0


def test_parameters_need_placeholders(store: EvidenceStore) -> None:
    with pytest.raises(StoreError, match=r"without a \{name:Type\} placeholder: x"):
        store.query("SELECT 1 AS one", {"x": 1})
    with pytest.raises(StoreError, match="without a value: y"):
        store.query("SELECT {y:String} AS y")


def test_bad_rows_are_refused(store: EvidenceStore) -> None:
    good = finding_row(evaluated(1))
    with pytest.raises(StoreError, match="unknown table"):
        store.insert("findings; DROP TABLE findings", [good])
    with pytest.raises(StoreError):
        store.insert("findings", [{**good, "no_such_column": 1}])
    with pytest.raises(StoreError, match="naive datetime"):
        store.insert("findings", [{**good, "ts": datetime(2024, 1, 1)}])
    tampered = evaluated(2)
    tampered.bundle["note"] = "changed after hashing"
    with pytest.raises(StoreError, match="does not hash"):
        finding_row(tampered)
    assert count(store, "findings") == 0


def test_an_engine_finding_is_stored_with_the_bytes_its_hash_covers() -> None:
    from pipeline.config import default_rules_config
    from pipeline.rules.findings import make_finding

    made = make_finding(
        default_rules_config(),
        "XB-LATE-DECLARATION",
        E1,
        ("t-1",),
        T0,
        context={"transfer_id": "t-1", "delay_hours": 30, "deadline_hours": 24},
        evidence={"transfer": {"transfer_id": "t-1", "note": "个人信息"}},
    )
    row = finding_row(made)
    assert row["bundle"].encode() == canonical_json(made.bundle) == made.canonical
    assert hashlib.sha256(row["bundle"].encode()).hexdigest() == made.finding.evidence_hash
    wrong = dataclasses.replace(made, canonical=b'{"forged":1}')  # bytes not hashed: refused
    with pytest.raises(StoreError, match="does not hash"):
        finding_row(wrong)


def test_insert_rate_100k_findings(store: EvidenceStore) -> None:
    """Throughput sanity, printed, never asserted (no timing assertions)."""
    rows = [finding_row(evaluated(n, ts=T0 + timedelta(hours=n % 2000))) for n in range(100_000)]
    started = time.perf_counter()
    store.insert("findings", rows, dedup_token="bench:0:0-99999")
    elapsed = time.perf_counter() - started
    print(
        f"\n{store.backend}: inserted {len(rows)} finding rows in {elapsed:.2f} s "
        f"({len(rows) / elapsed:,.0f} rows/s)"
    )
    assert count(store, "findings") == 100_000


# -- backend selection and the chDB singleton ---------------------------------------------


def test_open_store_chooses_chdb(chdb_root: Path) -> None:
    active = chdb_store.active_path()
    data_dir = active.parent if active is not None else chdb_root
    database = f"xbmon_test_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        data_dir=data_dir, clickhouse=ClickHouseSettings(backend="chdb", database=database)
    )
    with open_store(settings) as store:
        assert isinstance(store, ChdbStore)
        assert store.path == (data_dir / "chdb").resolve()
        store.query("DROP DATABASE IF EXISTS {database:Identifier}")


def test_open_store_server_unreachable_is_unavailable() -> None:
    with socket.socket() as probe:  # a local port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        clickhouse=ClickHouseSettings(backend="server", host="127.0.0.1", port=port)
    )
    with pytest.raises(StoreUnavailableError):
        open_store(settings)


def test_chdb_stores_share_one_session_per_process(chdb_root: Path) -> None:
    active = chdb_store.active_path()
    data_dir = active.parent if active is not None else chdb_root
    names = [f"xbmon_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    first, second = (ChdbStore(data_dir, name, RETENTION) for name in names)
    try:
        assert first._shared is second._shared
        assert chdb_store.active_path() == (data_dir / "chdb").resolve()
        first.ensure_schema()
        second.ensure_schema()
        first.insert("findings", [finding_row(evaluated(1))])
        assert count(first, "findings") == 1
        assert count(second, "findings") == 0  # databases isolate
        elsewhere = data_dir.parent / f"{data_dir.name}-other"
        with pytest.raises(StoreUnavailableError, match="already open"):
            ChdbStore(elsewhere, "xbmon", RETENTION)
        first.close()
        first.close()  # idempotent; the session stays open for `second`
        assert count(second, "findings") == 0
        with pytest.raises(StoreError, match="closed"):
            count(first, "findings")
    finally:
        for name in names:
            second.query("DROP DATABASE IF EXISTS {db:Identifier}", {"db": name})
        first.close()
        second.close()


def test_chdb_reopens_on_another_directory_once_closed(tmp_path: Path) -> None:
    if chdb_store.active_path() is not None:
        pytest.skip("another test module holds this process's chDB session open")
    for name in ("one", "two"):
        store = ChdbStore(tmp_path / name, "xbmon", RETENTION)
        store.ensure_schema()
        store.close()
        assert chdb_store.active_path() is None
    assert (tmp_path / "two" / "chdb" / "metadata").is_dir()


def test_chdb_directory_is_locked_to_one_process(chdb_root: Path) -> None:
    active = chdb_store.active_path()
    data_dir = active.parent if active is not None else chdb_root
    store = ChdbStore(data_dir, "xbmon_lock_probe", RETENTION)
    try:
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from pipeline.storage import StoreUnavailableError\n"
            "from pipeline.storage.chdb_store import ChdbStore\n"
            "try:\n"
            "    ChdbStore(Path(sys.argv[1]), 'xbmon', 1098)\n"
            "except StoreUnavailableError:\n"
            "    sys.exit(7)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, str(data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 7, result.stderr[-2000:]
    finally:
        store.close()


# -- SQL text, no database ----------------------------------------------------------------


def test_render_substitutes_only_an_int_retention() -> None:
    assert render("TTL x + toIntervalDay({{retention_days}})", 1100).endswith("(1100)")
    for bad in (True, 0, -1, 1100.0, "1100"):
        with pytest.raises(MigrationError):
            render("{{retention_days}}", bad)  # type: ignore[arg-type]
    with pytest.raises(MigrationError, match="unknown template"):
        render("{{database}}", 1100)


def test_discover_refuses_bad_names_and_gaps(tmp_path: Path) -> None:
    source = copy_migrations(tmp_path / "ddl")
    (source / "7_oops.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="NNN_snake_case"):
        discover(source)
    (source / "7_oops.sql").unlink()
    (source / f"{len(discover(source)) + 1:03d}_gap.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="without gaps"):
        discover(source)


def test_split_statements_respects_quotes_and_comments() -> None:
    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE a (s String DEFAULT ';') ENGINE = Memory; /* block ; */\n"
        "SELECT 'it''s; fine', \"a;b\", `c;d`, 'back\\'slash;' -- trailing ;\n"
        ";\n"
    )
    assert split_statements(script) == [
        "CREATE TABLE a (s String DEFAULT ';') ENGINE = Memory",
        "SELECT 'it''s; fine', \"a;b\", `c;d`, 'back\\'slash;'",
    ]


def test_param_text_escapes() -> None:
    assert param_text(None) == "\\N"
    assert param_text("a\tb\\c\n'") == "a\\tb\\\\c\\n'"
    assert param_text(["it's", None, 3]) == "['it\\'s',NULL,3]"


def test_bundle_canonical_json_is_what_is_stored() -> None:
    original = evaluated(1)
    row = finding_row(original)
    assert row["bundle"].encode() == canonical_json(original.bundle)
    assert row["ts"] == "2024-03-31 23:59:59.123456"


@pytest.fixture
def json_inserts(store: EvidenceStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tokens of the chDB inserts that went as JSONEachRow (the columnar path is chDB's)."""
    if store.backend != "chdb":
        pytest.skip("the columnar insert is chDB's")
    monkeypatch.setattr(ChdbStore, "arrow_min_rows", 2)  # the samples are a few rows
    tokens: list[str] = []
    original = ChdbStore._insert_payload

    def spy(self: ChdbStore, table: str, payload: bytes, token: str) -> None:
        tokens.append(token)
        original(self, table, payload, token)

    monkeypatch.setattr(ChdbStore, "_insert_payload", spy)
    return tokens


def test_chdb_inserts_json_rows_as_columns_with_the_same_result(
    store: EvidenceStore, json_inserts: list[str]
) -> None:
    payloads = json_inserts
    # As the store writer gets them: JSON values, decoded from the evidence.rows topic.
    rows = orjson.loads(orjson.dumps([finding_row(f) for f in sample_findings()]))
    store.insert("findings", rows, dedup_token="findings:0:1-4")
    store.insert("findings", rows, dedup_token="findings:0:1-4")  # redelivered: stored once
    assert payloads == []  # no JSONEachRow: the Arrow path took both
    assert count(store, "findings") == len(rows)
    stored = store.query("SELECT bundle, evidence_hash FROM {database:Identifier}.findings")
    for row in stored:  # the evidence bytes arrive unchanged
        assert hashlib.sha256(row["bundle"].encode()).hexdigest() == row["evidence_hash"]
    assert [f.finding for f in fetch_evaluated_findings(store)] == sorted(
        (f.finding for f in sample_findings()), key=lambda f: (f.ts, f.finding_id)
    )


def test_chdb_falls_back_to_json_rows_when_columns_are_not_plain(
    store: EvidenceStore, json_inserts: list[str]
) -> None:
    payloads = json_inserts
    good = orjson.loads(orjson.dumps(finding_row(evaluated(1))))
    mixed = {**orjson.loads(orjson.dumps(finding_row(evaluated(2)))), "severity": 3}
    store.insert("findings", [good, mixed], dedup_token="mixed")  # str and int in one column
    assert payloads == ["mixed"]
    with pytest.raises(StoreError):  # not spliced into SQL: JSONEachRow refuses the key
        store.insert("findings", [{**good, "x`) SELECT 1 --": 1}], dedup_token="evil")
    assert payloads == ["mixed", "evil"]


def test_chdb_inserts_a_small_chunk_as_json_rows(
    store: EvidenceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.backend != "chdb":
        pytest.skip("the columnar insert is chDB's")
    calls: list[str] = []
    monkeypatch.setattr(
        ChdbStore, "insert_arrow", lambda self, table, rows, token: calls.append(token)
    )
    rows = orjson.loads(orjson.dumps([finding_row(f) for f in sample_findings()]))
    store.insert("findings", rows, dedup_token="small")
    assert len(rows) < ChdbStore.arrow_min_rows and calls == []
    assert count(store, "findings") == len(rows)  # stored, as JSONEachRow
    store.insert("findings", rows * ChdbStore.arrow_min_rows, dedup_token="large")
    assert calls == ["large"]
