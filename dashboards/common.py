"""Shared defaults of every xbmon dashboard: data sources, the ClickHouse query, panel kinds.

The foundation SDK ships builders for Prometheus queries but none for the ClickHouse plugin,
so `ClickHouseQuery` is the plugin's SQL-editor query (`src/types/sql.ts` of
grafana/clickhouse-datasource) as an SDK data query.
"""

from __future__ import annotations

from typing import Any, Final, Literal, Self

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import piechart, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import piechart as piechart_models
from grafana_foundation_sdk.models.dashboard import DataSourceRef, DynamicConfigValue

from dashboards.queries import sql

CLICKHOUSE_TYPE: Final = "grafana-clickhouse-datasource"
#: The uids provisioned in deploy/grafana/provisioning/datasources/.
CLICKHOUSE: Final = DataSourceRef(type_val=CLICKHOUSE_TYPE, uid="xbmon-clickhouse")
PROMETHEUS: Final = DataSourceRef(type_val="prometheus", uid="xbmon-prometheus")
#: The database of the evidence store, a hidden constant variable of every SQL dashboard.
DATABASE_VARIABLE: Final = "database"
DEFAULT_DATABASE: Final = "xbmon"
TAGS: Final = ["xbmon"]
#: ClickHouse plugin formats (its `Format` enum): time series or table.
FORMAT_TIME_SERIES: Final = 0
FORMAT_TABLE: Final = 1

#: Table and stat columns shown in bytes (IEC units), as the report does.
BYTES_COLUMNS: Final = ".*bytes$"

QueryType = Literal["timeseries", "table"]


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL query of the ClickHouse plugin."""

    def __init__(self, raw_sql: str, query_type: QueryType, ref_id: str = "A") -> None:
        self.raw_sql = raw_sql
        self.query_type = query_type
        self.ref_id = ref_id

    def to_json(self) -> dict[str, object]:
        time_series = self.query_type == "timeseries"
        return {
            "datasource": CLICKHOUSE.to_json(),
            "editorType": "sql",
            "format": FORMAT_TIME_SERIES if time_series else FORMAT_TABLE,
            "queryType": "timeSeries" if time_series else "table",
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class ClickHouseQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, name: str, query_type: QueryType) -> None:
        self._query = ClickHouseQuery(sql(name), query_type)

    def ref_id(self, ref_id: str) -> Self:
        self._query.ref_id = ref_id
        return self

    def build(self) -> ClickHouseQuery:
        return self._query


def clickhouse(name: str, query_type: QueryType) -> ClickHouseQueryBuilder:
    """The query of panel file `sql/<name>.sql`."""
    return ClickHouseQueryBuilder(name, query_type)


def promql(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .range()
        .ref_id(ref_id)
        .datasource(PROMETHEUS)
    )


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common_models.LegendDisplayMode.LIST)
        .placement(common_models.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def _tooltip() -> common_builders.VizTooltipOptions:
    return (
        common_builders.VizTooltipOptions()
        .mode(common_models.TooltipDisplayMode.MULTI)
        .sort(common_models.SortOrder.DESCENDING)
    )


def sql_timeseries(
    name: str, title: str, description: str, unit: str = "short", stacked: bool = True
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(clickhouse(name, "timeseries"))
        .legend(_legend())
        .tooltip(_tooltip())
        .unit(unit)
        .fill_opacity(30 if stacked else 10)
        .height(8)
        .span(12)
    )
    if stacked:
        panel = panel.stacking(
            common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL)
        )
        panel = panel.draw_style(common_models.GraphDrawStyle.BARS)
    return panel


def sql_table(name: str, title: str, description: str, span: int = 12) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(clickhouse(name, "table"))
        .override_by_regexp(BYTES_COLUMNS, [DynamicConfigValue("unit", "bytes")])
        .show_header(True)
        .height(9)
        .span(span)
    )


#: The enterprise drill-down's uid and variable (links from other dashboards' tables).
ENTERPRISE_UID: Final = "xbmon-enterprise"


def link_enterprise(panel: table.Panel, column: str = "enterprise_id") -> table.Panel:
    """Make the column's values open the enterprise drill-down on that enterprise."""
    link = {
        "title": "Enterprise drill-down",
        "url": f"/d/{ENTERPRISE_UID}?var-enterprise=${{__value.raw}}&${{__url_time_range}}",
    }
    return panel.override_by_name(column, [DynamicConfigValue("links", [link])])


def sql_stat(name: str, title: str, description: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(clickhouse(name, "table"))
        .override_by_regexp(BYTES_COLUMNS, [DynamicConfigValue("unit", "bytes")])
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().values(False).calcs(["lastNotNull"]))
        .height(4)
        .span(24)
    )


def sql_pie(name: str, title: str, description: str, span: int = 6) -> piechart.Panel:
    return (
        piechart.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(clickhouse(name, "table"))
        .pie_type(piechart_models.PieChartType.DONUT)
        .tooltip(_tooltip())
        .reduce_options(common_builders.ReduceDataOptions().values(True).calcs(["lastNotNull"]))
        .height(9)
        .span(span)
    )


def prom_timeseries(
    title: str, description: str, targets: list[prometheus.Dataquery], unit: str = "short"
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .legend(_legend())
        .tooltip(_tooltip())
        .unit(unit)
        .fill_opacity(10)
        .height(8)
        .span(12)
    )
    for target in targets:
        panel = panel.with_target(target)
    return panel


def database_variable() -> dash.ConstantVariable:
    """Hidden constant: the evidence store's database (`XBMON_CLICKHOUSE__DATABASE`)."""
    return dash.ConstantVariable(DATABASE_VARIABLE).value(DEFAULT_DATABASE)


def new_dashboard(uid: str, title: str, description: str, time_from: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone("browser")
        .time(time_from, "now")
        .refresh("1m")
        .readonly()
    )


def to_json(built: Any) -> dict[str, Any]:
    """A built SDK object as plain JSON data."""
    import json

    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    data: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    return data
