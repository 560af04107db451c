"""Enterprise drill-down: one enterprise's credit and risk, what it sends where, its findings
with their evidence hashes, and its filings and how they cover its destinations.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, VariableRefresh

from dashboards.common import (
    CLICKHOUSE,
    ENTERPRISE_UID,
    database_variable,
    new_dashboard,
    sql_table,
    sql_timeseries,
)
from dashboards.queries import sql

UID: Final = ENTERPRISE_UID
TITLE: Final = "xbmon / Enterprise drill-down"
VARIABLE: Final = "enterprise"
VARIABLE_QUERY: Final = "enterprise/enterprise_options"


def profile() -> cogbuilder.Builder[Panel]:
    return sql_table(
        "enterprise/profile",
        "Enterprise",
        "Register entry and the latest score at the end of the period.",
        span=24,
    ).height(4)


def score_history() -> cogbuilder.Builder[Panel]:
    return (
        sql_timeseries(
            "enterprise/score_history",
            "Credit and risk",
            "Every score computed in the period (0-100 each); the tier is the worse of the two.",
            stacked=False,
        )
        .min(0)
        .max(100)
    )


def contribution_history() -> cogbuilder.Builder[Panel]:
    return sql_timeseries(
        "enterprise/contribution_history",
        "Indicator contributions over time",
        "Points of each named indicator towards credit or risk.",
        stacked=False,
    )


def contributions() -> cogbuilder.Builder[Panel]:
    return sql_table(
        "enterprise/contributions",
        "Why this tier: contributions of the latest score",
        "Each indicator's points and reason, as `xbmon enterprise show` prints them.",
        span=24,
    )


def transfers_by_destination() -> cogbuilder.Builder[Panel]:
    return sql_table(
        "enterprise/transfers_by_destination",
        "Transfers by country and recipient",
        "Declared transfers of the period, by destination and overseas recipient.",
    )


def country_coverage() -> cogbuilder.Builder[Panel]:
    return sql_table(
        "enterprise/country_coverage",
        "Destination coverage",
        "For each destination, the filings valid at the end of the period that cover it.",
    )


def findings() -> cogbuilder.Builder[Panel]:
    return sql_table(
        "enterprise/findings",
        "Findings with evidence hashes",
        "SHA-256 of each finding's canonical evidence bundle, stored with it.",
        span=24,
    )


def filings() -> cogbuilder.Builder[Panel]:
    return sql_table(
        "enterprise/filings",
        "Filings and their scope",
        "Scope lists are empty for 'any'; valid_at_end is judged at the end of the period.",
        span=24,
    )


def enterprise_variable() -> dash.QueryVariable:
    return (
        dash.QueryVariable(VARIABLE)
        .label("Enterprise (USCC)")
        .datasource(CLICKHOUSE)
        .query(sql(VARIABLE_QUERY))
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
    )


PANELS: Final = [
    profile,
    score_history,
    contribution_history,
    contributions,
    transfers_by_destination,
    country_coverage,
    findings,
    filings,
]


def dashboard() -> Dashboard:
    board = (
        new_dashboard(
            UID,
            TITLE,
            "One enterprise: credit, risk and why; transfers; findings and evidence; filings.",
            "now-30d",
        )
        .with_variable(database_variable())
        .with_variable(enterprise_variable())
    )
    for panel in PANELS:
        board = board.with_panel(panel())
    return board.build()
