"""Run a panel's SQL on the evidence store as Grafana would, outside Grafana.

Used by `xbmon report` and by the tests: the text of the panel, its variables and macros
expanded (`dashboards.macros`), its column types read with DESCRIBE (Grafana's time series
need a DateTime `time` column), and plain `DateTime` values, which chDB's Arrow output gives
as epoch seconds, turned into aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dashboards.macros import TimeRange, expand
from pipeline.storage import EvidenceStore


@dataclass(frozen=True)
class Result:
    columns: list[tuple[str, str]]  # name, ClickHouse type
    rows: list[dict[str, Any]]


def run_panel(
    store: EvidenceStore, text: str, period: TimeRange, variables: Mapping[str, str]
) -> Result:
    sql = expand(text, period, {"database": store.database, **variables})
    columns = [(str(c["name"]), str(c["type"])) for c in store.query(f"DESCRIBE ({sql.rstrip()})")]
    rows = store.query(sql)
    epoch = [name for name, kind in columns if kind.startswith("DateTime(") or kind == "DateTime"]
    for row in rows:
        for name in epoch:
            if isinstance(row.get(name), int):
                row[name] = datetime.fromtimestamp(row[name], UTC)
    return Result(columns, rows)
