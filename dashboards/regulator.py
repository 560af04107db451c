"""Regulator overview: what leaves, to where, from which sectors; findings; tiers; renewals.

One function per panel; `PANELS` lists them in dashboard order, and `xbmon report` renders the
same panels (same SQL files) without Grafana.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.dashboard import Dashboard, DashboardLinkType, Panel

from dashboards.common import (
    database_variable,
    link_enterprise,
    new_dashboard,
    sql_pie,
    sql_stat,
    sql_table,
    sql_timeseries,
)

UID: Final = "xbmon-regulator"
TITLE: Final = "xbmon / Regulator overview"

Kind = Literal["stat", "timeseries", "table", "pie"]


@dataclass(frozen=True)
class PanelSpec:
    """A panel of the overview: its SQL file, how it is drawn, what it says."""

    query: str  # sql/<query>.sql
    kind: Kind
    title: str
    description: str
    unit: str = "short"

    @property
    def name(self) -> str:
        return self.query.split("/")[-1]


def _spec(query: str, kind: Kind, title: str, description: str, unit: str = "short") -> PanelSpec:
    return PanelSpec(f"regulator/{query}", kind, title, description, unit)


SUMMARY = _spec(
    "summary",
    "stat",
    "The period at a glance",
    "Transfers declared, individuals, bytes, enterprises exporting, findings.",
)
TRANSFERS_BY_COUNTRY = _spec(
    "transfers_by_country",
    "timeseries",
    "Transfers by destination country",
    "Declared transfers per interval; the 8 countries with most bytes, the rest as other.",
)
INDIVIDUALS_BY_COUNTRY = _spec(
    "individuals_by_country",
    "timeseries",
    "Individuals by destination country",
    "Subjects plus sensitive subjects of the transfers, per interval.",
)
BYTES_BY_COUNTRY = _spec(
    "bytes_by_country",
    "timeseries",
    "Bytes leaving by destination country",
    "Declared bytes per interval.",
    "bytes",
)
TRANSFERS_BY_SECTOR = _spec(
    "transfers_by_sector",
    "timeseries",
    "Transfers by sector",
    "Declared transfers per interval, by the exporter's registered sector.",
)
INDIVIDUALS_BY_SECTOR = _spec(
    "individuals_by_sector",
    "timeseries",
    "Individuals by sector",
    "Subjects plus sensitive subjects, by the exporter's sector.",
)
BYTES_BY_SECTOR = _spec(
    "bytes_by_sector",
    "timeseries",
    "Bytes leaving by sector",
    "Declared bytes per interval, by the exporter's sector.",
    "bytes",
)
FINDINGS_BY_RULE = _spec(
    "findings_by_rule",
    "timeseries",
    "Findings by rule",
    "Findings per interval by rule id (event time of what each finding is about).",
)
FINDINGS_BY_SEVERITY = _spec(
    "findings_by_severity",
    "timeseries",
    "Findings by severity",
    "Findings per interval by severity.",
)
ENTERPRISES_BY_TIER = _spec(
    "enterprises_by_tier",
    "pie",
    "Enterprises by tier",
    "Each enterprise's tier from its latest score at the end of the period.",
)
TIER_MOVEMENTS = _spec(
    "tier_movements",
    "table",
    "Tier movements",
    "Moves from one supervision tier to another in the period.",
)
TOP_RISK = _spec(
    "top_risk",
    "table",
    "Top enterprises by risk",
    "The 20 riskiest enterprises at the end of the period, with tier, credit and findings.",
)
FILINGS_EXPIRING = _spec(
    "filings_expiring",
    "table",
    "Filings expiring within 30 days",
    "Valid filings whose validity ends within 30 days after the end of the period.",
)
UNDECLARED_EGRESS = _spec(
    "undeclared_egress",
    "table",
    "Undeclared egress by enterprise and country",
    "Bytes the probes observed beyond what the enterprise declared, per destination.",
)
DEADLETTERS = _spec(
    "deadletters",
    "timeseries",
    "Dead-letter volume",
    "Records refused at the door, by input topic and the field that failed.",
)


def summary() -> cogbuilder.Builder[Panel]:
    s = SUMMARY
    return sql_stat(s.query, s.title, s.description)


def transfers_by_country() -> cogbuilder.Builder[Panel]:
    s = TRANSFERS_BY_COUNTRY
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def individuals_by_country() -> cogbuilder.Builder[Panel]:
    s = INDIVIDUALS_BY_COUNTRY
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def bytes_by_country() -> cogbuilder.Builder[Panel]:
    s = BYTES_BY_COUNTRY
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def transfers_by_sector() -> cogbuilder.Builder[Panel]:
    s = TRANSFERS_BY_SECTOR
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def individuals_by_sector() -> cogbuilder.Builder[Panel]:
    s = INDIVIDUALS_BY_SECTOR
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def bytes_by_sector() -> cogbuilder.Builder[Panel]:
    s = BYTES_BY_SECTOR
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def findings_by_rule() -> cogbuilder.Builder[Panel]:
    s = FINDINGS_BY_RULE
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def findings_by_severity() -> cogbuilder.Builder[Panel]:
    s = FINDINGS_BY_SEVERITY
    return sql_timeseries(s.query, s.title, s.description, s.unit)


def enterprises_by_tier() -> cogbuilder.Builder[Panel]:
    s = ENTERPRISES_BY_TIER
    return sql_pie(s.query, s.title, s.description, span=6)


def tier_movements() -> cogbuilder.Builder[Panel]:
    s = TIER_MOVEMENTS
    return sql_table(s.query, s.title, s.description, span=6)


def top_risk() -> cogbuilder.Builder[Panel]:
    s = TOP_RISK
    return link_enterprise(sql_table(s.query, s.title, s.description, span=12))


def filings_expiring() -> cogbuilder.Builder[Panel]:
    s = FILINGS_EXPIRING
    return link_enterprise(sql_table(s.query, s.title, s.description, span=12))


def undeclared_egress() -> cogbuilder.Builder[Panel]:
    s = UNDECLARED_EGRESS
    return link_enterprise(sql_table(s.query, s.title, s.description, span=12))


def deadletters() -> cogbuilder.Builder[Panel]:
    s = DEADLETTERS
    return sql_timeseries(s.query, s.title, s.description, s.unit)


#: Dashboard order, with each panel's spec (the report draws the same list).
PANELS: Final[list[tuple[PanelSpec, Callable[[], cogbuilder.Builder[Panel]]]]] = [
    (SUMMARY, summary),
    (TRANSFERS_BY_COUNTRY, transfers_by_country),
    (TRANSFERS_BY_SECTOR, transfers_by_sector),
    (INDIVIDUALS_BY_COUNTRY, individuals_by_country),
    (INDIVIDUALS_BY_SECTOR, individuals_by_sector),
    (BYTES_BY_COUNTRY, bytes_by_country),
    (BYTES_BY_SECTOR, bytes_by_sector),
    (FINDINGS_BY_RULE, findings_by_rule),
    (FINDINGS_BY_SEVERITY, findings_by_severity),
    (ENTERPRISES_BY_TIER, enterprises_by_tier),
    (TIER_MOVEMENTS, tier_movements),
    (TOP_RISK, top_risk),
    (FILINGS_EXPIRING, filings_expiring),
    (UNDECLARED_EGRESS, undeclared_egress),
    (DEADLETTERS, deadletters),
]


def dashboard() -> Dashboard:
    board = new_dashboard(
        UID,
        TITLE,
        "Cross-border transfers, findings, supervision tiers and renewals, from the evidence "
        "store. The same queries make `xbmon report`.",
        "now-7d",
    ).with_variable(database_variable())
    for _, panel in PANELS:
        board = board.with_panel(panel())
    return board.link(
        dash.DashboardLink("Enterprise drill-down")
        .type(DashboardLinkType.DASHBOARDS)
        .tags(["xbmon"])
        .as_dropdown(True)
        .keep_time(True)
    ).build()
