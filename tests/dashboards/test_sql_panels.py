"""Every SQL panel of the committed dashboards runs on chDB with the real DDL and a world.

The queries are taken from the committed JSON (what Grafana gets), expanded with Grafana's
variables and the ClickHouse plugin's macros, and run against a synthesised world stored
through the worker's own code path. Each returns rows, time series are shaped as Grafana
needs (a `time` column, ascending), and the totals agree with the world itself.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboards.macros import MacroError, TimeRange
from dashboards.queries import sql
from dashboards.runner import run_panel
from pipeline.config import default_rules_config
from pipeline.rules.filings import is_valid, validity_end
from pipeline.storage import fetch_findings

ROOT = Path(__file__).resolve().parents[2]
JSON_DIR = ROOT / "dashboards" / "json"
SQL_DIR = ROOT / "dashboards" / "sql"
CLICKHOUSE = "grafana-clickhouse-datasource"


def clickhouse_queries() -> list[tuple[str, str, int | None]]:
    """(dashboard/panel title, raw SQL, plugin format) of every ClickHouse query and variable."""
    found: list[tuple[str, str, int | None]] = []
    for path in sorted(JSON_DIR.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board.get("panels", []):
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") == CLICKHOUSE:
                    found.append(
                        (f"{path.stem}/{panel['title']}", target["rawSql"], target["format"])
                    )
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("datasource", {}).get("type") == CLICKHOUSE:
                found.append((f"{path.stem}/${variable['name']}", variable["query"], None))
    return found


QUERIES = clickhouse_queries()


def run(stored: Any, text: str, period: TimeRange, enterprise: str) -> list[dict[str, Any]]:
    return run_panel(stored.store, text, period, {"enterprise": enterprise}).rows


@pytest.fixture(scope="module")
def enterprise(stored_world: Any) -> str:
    """An enterprise with filings, transfers and findings: the one with the most findings."""
    with_filings = {f.enterprise_id for f in stored_world.world.filings}
    counts = Counter(
        f.enterprise_id
        for f in fetch_findings(stored_world.store)
        if f.enterprise_id in with_filings
    )
    return counts.most_common(1)[0][0]


def test_every_sql_file_is_used_by_a_panel_and_the_json_carries_it_verbatim() -> None:
    files = {p.relative_to(SQL_DIR).with_suffix("").as_posix() for p in SQL_DIR.rglob("*.sql")}
    texts = {sql(name) for name in files}
    used = {text for _, text, _ in QUERIES}
    assert used <= texts, "a panel's SQL is not a file of dashboards/sql"
    assert len(used) == len(files), "every .sql file backs exactly one panel or variable"


@pytest.mark.parametrize(("title", "text", "fmt"), QUERIES, ids=[q[0] for q in QUERIES])
def test_panel_query_returns_rows_on_the_world(
    stored_world: Any, enterprise: str, title: str, text: str, fmt: int | None
) -> None:
    period = stored_world.period
    if title.endswith("Filings expiring within 30 days"):
        period = expiring_period(stored_world)
    result = run_panel(stored_world.store, text, period, {"enterprise": enterprise})
    rows = result.rows
    assert rows, f"{title}: no rows on a world that has data for it"
    if fmt == 0:  # time series: Grafana wants a DateTime time column first, ascending
        name, kind = result.columns[0]
        assert name == "time" and kind.startswith("DateTime"), result.columns[0]
        times = [r["time"] for r in rows]
        assert all(isinstance(t, datetime) for t in times)
        assert times == sorted(times)
        assert all(period.start - period.interval <= t <= period.end for t in times)


def unique_logs(stored_world: Any) -> list[Any]:
    """The world's logs as the stream keeps them: the first of each transfer_id."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for log in sorted(stored_world.world.logs, key=lambda t: (t.ts, t.transfer_id)):
        key = (log.enterprise_id, log.transfer_id)
        if key not in seen:
            seen.add(key)
            kept.append(log)
    return kept


def total(rows: list[dict[str, Any]], column: str) -> int:
    return sum(int(r[column]) for r in rows)


def test_country_and_sector_series_add_up_to_the_world(stored_world: Any) -> None:
    logs = unique_logs(stored_world)
    period = stored_world.period
    for measure, expected in (
        ("transfers", len(logs)),
        ("individuals", sum(t.subjects + t.sensitive_subjects for t in logs)),
        ("bytes", sum(t.bytes for t in logs)),
    ):
        for dimension in ("country", "sector"):
            rows = run(stored_world, sql(f"regulator/{measure}_by_{dimension}"), period, "x")
            assert total(rows, measure) == expected, (measure, dimension)
    countries = {
        r["destination"] for r in run(stored_world, sql("regulator/bytes_by_country"), period, "x")
    }
    assert len(countries - {"other"}) <= 8
    sectors = {
        r["sector"] for r in run(stored_world, sql("regulator/transfers_by_sector"), period, "x")
    }
    assert sectors == {
        e.sector
        for e in stored_world.world.enterprises
        if any(t.enterprise_id == e.enterprise_id for t in logs)
    } | (
        {"other"}
        if any(
            t.enterprise_id not in {e.enterprise_id for e in stored_world.world.enterprises}
            for t in logs
        )
        else set()
    )


def test_findings_series_count_every_stored_finding(stored_world: Any) -> None:
    stored = fetch_findings(stored_world.store)
    period = stored_world.period
    by_rule = run(stored_world, sql("regulator/findings_by_rule"), period, "x")
    by_severity = run(stored_world, sql("regulator/findings_by_severity"), period, "x")
    assert total(by_rule, "findings") == total(by_severity, "findings") == len(stored)
    assert Counter(f.rule_id for f in stored) == sum(
        (Counter({r["rule_id"]: int(r["findings"])}) for r in by_rule), Counter()
    )
    summary = run(stored_world, sql("regulator/summary"), period, "x")[0]
    assert summary["findings"] == len(stored)
    assert summary["transfers"] == len(unique_logs(stored_world))


def test_tiers_cover_every_scored_enterprise_and_top_risk_is_ordered(stored_world: Any) -> None:
    period = stored_world.period
    tiers = run(stored_world, sql("regulator/enterprises_by_tier"), period, "x")
    scored = stored_world.store.query(
        "SELECT uniqExact(enterprise_id) AS n FROM {database:Identifier}.scores"
    )[0]["n"]
    assert total(tiers, "enterprises") == scored
    assert {r["tier"] for r in tiers} <= {"A", "B", "C", "D"}
    top = run(stored_world, sql("regulator/top_risk"), period, "x")
    assert 0 < len(top) <= 20
    assert [r["risk"] for r in top] == sorted((r["risk"] for r in top), reverse=True)
    assert all(r["name"] for r in top)  # joined with the register


def expiring_period(stored_world: Any) -> TimeRange:
    """A period ending 10 days before the earliest validity end inside the world."""
    config = default_rules_config()
    start = stored_world.period.start
    ends = sorted(
        end
        for f in stored_world.world.filings
        if (end := validity_end(f, config.zone, config.assessment_validity_years)) is not None
        and end > start + timedelta(days=11)
    )
    return TimeRange(start, ends[0] - timedelta(days=10), timedelta(hours=6))


def test_filings_expiring_are_exactly_the_valid_ones_ending_within_30_days(
    stored_world: Any,
) -> None:
    config = default_rules_config()
    period = expiring_period(stored_world)
    end = period.end.replace(microsecond=0)
    expected = set()
    for f in stored_world.world.filings:
        until = validity_end(f, config.zone, config.assessment_validity_years)
        if (
            until is not None
            and is_valid(f, end, until)
            and end <= until <= end + timedelta(days=30)
        ):
            expected.add(f.filing_id)
    rows = run(stored_world, sql("regulator/filings_expiring"), period, "x")
    assert expected and {r["filing_id"] for r in rows} == expected
    assert all(0 <= r["days_left"] <= 30 for r in rows)


def test_undeclared_egress_names_the_enterprise_the_world_injected(stored_world: Any) -> None:
    injected = {
        t.enterprise_id for t in stored_world.world.truth if t.rule_id == "XB-UNDECLARED-EGRESS"
    }
    rows = run(stored_world, sql("regulator/undeclared_egress"), stored_world.period, "x")
    assert injected <= {r["enterprise_id"] for r in rows}
    assert all(r["undeclared_bytes"] > 0 for r in rows)


def test_enterprise_panels_agree_with_the_store(stored_world: Any, enterprise: str) -> None:
    period = stored_world.period
    findings = run(stored_world, sql("enterprise/findings"), period, enterprise)
    stored = fetch_findings(stored_world.store, enterprise_id=enterprise)
    assert {r["evidence_hash"] for r in findings} == {f.evidence_hash for f in stored}
    filings = run(stored_world, sql("enterprise/filings"), period, enterprise)
    assert {r["filing_id"] for r in filings} == {
        f.filing_id for f in stored_world.world.filings if f.enterprise_id == enterprise
    }
    contributions = run(stored_world, sql("enterprise/contributions"), period, enterprise)
    profile = run(stored_world, sql("enterprise/profile"), period, enterprise)[0]
    risk = sum(r["points"] for r in contributions if r["score"] == "risk")
    assert abs(risk - profile["risk"]) < 0.5  # risk starts at 0; rounded to 0.01 / 0.1
    assert {r["score"] for r in contributions} == {"credit", "risk"}
    destinations = run(stored_world, sql("enterprise/transfers_by_destination"), period, enterprise)
    logs = [t for t in unique_logs(stored_world) if t.enterprise_id == enterprise]
    assert total(destinations, "transfers") == len(logs)


def test_a_variable_that_is_not_a_plain_id_is_refused(stored_world: Any) -> None:
    with pytest.raises(MacroError, match="not a plain id"):
        run(stored_world, sql("enterprise/findings"), stored_world.period, "x' OR 1=1 --")
