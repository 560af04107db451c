"""The regulator overview as one self-contained HTML page, for embedded users and for mail.

The panels are `regulator.PANELS`, their data the same `.sql` files Grafana runs (through
`dashboards.runner`), drawn as inline SVG with inline CSS: no script, no font, no network at
view time. Hover text comes from SVG `<title>` elements.
"""

from __future__ import annotations

import html
import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any, Final

from dashboards.macros import TimeRange
from dashboards.queries import sql
from dashboards.regulator import PANELS, TITLE, PanelSpec
from dashboards.runner import Result, run_panel
from pipeline.storage import EvidenceStore

#: Bucket sizes the report chooses from: the smallest giving at most MAX_BUCKETS bars.
INTERVALS: Final = (
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=30),
)
MAX_BUCKETS: Final = 60
MAX_TABLE_ROWS: Final = 25
PALETTE: Final = (
    "#3b6fb6",
    "#e07b39",
    "#4c9f70",
    "#c8453b",
    "#8a63b8",
    "#a0785a",
    "#d66fb0",
    "#6f7f8f",
    "#b5b23a",
    "#3aa6b5",
    "#274b7a",
    "#f2b134",
)
TIER_COLOURS: Final = {"A": "#4c9f70", "B": "#3b6fb6", "C": "#e0a039", "D": "#c8453b"}
SEVERITY_COLOURS: Final = {
    "info": "#8e9aa6",
    "low": "#3b6fb6",
    "medium": "#e0a039",
    "high": "#e07b39",
    "critical": "#c8453b",
}


def interval_for(start: datetime, end: datetime) -> timedelta:
    span = end - start
    for step in INTERVALS:
        if span / step <= MAX_BUCKETS:
            return step
    return INTERVALS[-1]


@dataclass(frozen=True)
class PanelData:
    spec: PanelSpec
    result: Result


def collect(store: EvidenceStore, start: datetime, end: datetime) -> list[PanelData]:
    """Run every panel of the overview for the period."""
    period = TimeRange(start, end, interval_for(start, end))
    return [PanelData(spec, run_panel(store, sql(spec.query), period, {})) for spec, _ in PANELS]


# -- formatting ---------------------------------------------------------------------------


def human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"  # pragma: no cover


def human(value: Any, column: str = "", unit: str = "short") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(human(v) for v in value) or "any"
    if isinstance(value, int | float):
        if unit == "bytes" or "bytes" in column:
            return human_bytes(float(value))
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.1f}"
        return f"{int(value):,}"
    return str(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _colour(name: str, index: int) -> str:
    return TIER_COLOURS.get(name) or SEVERITY_COLOURS.get(name) or PALETTE[index % len(PALETTE)]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10.0 * magnitude  # pragma: no cover


# -- charts -------------------------------------------------------------------------------


def stacked_bars(result: Result, unit: str, period: tuple[datetime, datetime]) -> str:
    """A stacked bar chart of a long-format time series (time, series, value)."""
    if not result.rows:
        return '<p class="empty">No data in this period.</p>'
    (time_col, _), (series_col, _), (value_col, _) = result.columns[:3]
    buckets: OrderedDict[datetime, dict[str, float]] = OrderedDict()
    names: list[str] = []
    for row in result.rows:
        name = str(row[series_col])
        if name not in names:
            names.append(name)
        bucket = buckets.setdefault(row[time_col], {})
        bucket[name] = bucket.get(name, 0.0) + float(row[value_col])
    totals = {n: sum(b.get(n, 0.0) for b in buckets.values()) for n in names}
    names.sort(key=lambda n: (-totals[n], n))
    width, height, left, bottom, top = 720, 220, 64, 28, 8
    plot_w, plot_h = width - left - 8, height - bottom - top
    top_value = _nice_max(max(sum(b.values()) for b in buckets.values()))
    start, end = period
    span = max((end - start).total_seconds(), 1.0)
    times = list(buckets)
    step = (
        min((b - a).total_seconds() for a, b in itertools.pairwise(times))
        if len(times) > 1
        else span / MAX_BUCKETS
    )
    bar_w = max(plot_w * step / span * 0.85, 1.5)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{_e(value_col)} by {_e(series_col)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        label = human(top_value * i / 4, value_col, unit)
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{_e(label)}</text>"
        )
    for t, bucket in buckets.items():
        x = left + plot_w * (t - start).total_seconds() / span
        y = top + plot_h
        for index, name in enumerate(names):
            value = bucket.get(name, 0.0)
            if value <= 0:
                continue
            h = plot_h * value / top_value
            y -= h
            tip = f"{human(t)} · {name}: {human(value, value_col, unit)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_colour(name, index)}"><title>{_e(tip)}</title></rect>'
            )
    days = max(int(span // 86400), 1)
    every = max(days // 8, 1)
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    index = 0
    while day <= end:
        if day >= start and index % every == 0:
            x = left + plot_w * (day - start).total_seconds() / span
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" class="tick"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{height - 10}" class="axis" text-anchor="middle">'
                f"{day:%m-%d}</text>"
            )
        day += timedelta(days=1)
        index += 1
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{_colour(n, i)}"></i>{_e(n)} '
        f"<small>{_e(human(totals[n], value_col, unit))}</small></span>"
        for i, n in enumerate(names)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def horizontal_bars(result: Result) -> str:
    if not result.rows:
        return '<p class="empty">No data in this period.</p>'
    (label_col, _), (value_col, _) = result.columns[:2]
    top_value = max(float(r[value_col]) for r in result.rows) or 1.0
    rows = []
    for index, row in enumerate(result.rows):
        label, value = str(row[label_col]), float(row[value_col])
        pct = 100 * value / top_value
        rows.append(
            f'<div class="hbar"><span class="hlabel">{_e(label_col)} {_e(label)}</span>'
            f'<span class="htrack"><span class="hfill" style="width:{pct:.1f}%;'
            f'background:{_colour(label, index)}"></span></span>'
            f'<span class="hvalue">{_e(human(value))}</span></div>'
        )
    return "".join(rows)


def stats(result: Result) -> str:
    if not result.rows:
        return '<p class="empty">No data in this period.</p>'
    row = result.rows[0]
    return (
        '<div class="stats">'
        + "".join(
            f'<div class="stat"><b>{_e(human(row[name], name))}</b>'
            f"<span>{_e(name.replace('_', ' '))}</span></div>"
            for name, _ in result.columns
        )
        + "</div>"
    )


def table(result: Result) -> str:
    if not result.rows:
        return '<p class="empty">Nothing in this period.</p>'
    head = "".join(f"<th>{_e(name.replace('_', ' '))}</th>" for name, _ in result.columns)
    body = []
    for row in result.rows[:MAX_TABLE_ROWS]:
        cells = []
        for name, _kind in result.columns:
            value = row[name]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            css = ' class="num"' if numeric else ""
            if name == "tier" and value in TIER_COLOURS:
                cells.append(
                    f'<td><span class="tier" style="background:{TIER_COLOURS[value]}">'
                    f"{_e(value)}</span></td>"
                )
            else:
                cells.append(f"<td{css}>{_e(human(value, name))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = len(result.rows) - MAX_TABLE_ROWS
    note = f'<p class="more">and {more} more rows</p>' if more > 0 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def panel_html(data: PanelData, period: tuple[datetime, datetime]) -> str:
    spec = data.spec
    if spec.kind == "timeseries":
        body = stacked_bars(data.result, spec.unit, period)
    elif spec.kind == "pie":
        body = horizontal_bars(data.result)
    elif spec.kind == "stat":
        body = stats(data.result)
    else:
        body = table(data.result)
    wide = " wide" if spec.kind in ("table", "stat") else ""
    return (
        f'<section class="panel{wide}" id="{_e(spec.name)}"><h2>{_e(spec.title)}</h2>'
        f'<p class="desc">{_e(spec.description)}</p>{body}</section>'
    )


#: The page may load nothing: a browser blocks (and reports on its console) any fetch.
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS: Final = resources.files("dashboards").joinpath("report.css").read_text(encoding="utf-8")


def render(panels: Sequence[PanelData], start: datetime, end: datetime, generated: datetime) -> str:
    """The page: every panel of the overview for [start, end]."""
    period = (start, end)
    body = "".join(panel_html(p, period) for p in panels)
    span = f"{human(start)} – {human(end)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(TITLE)} · {_e(span)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(TITLE)}</h1><p>{_e(span)} · generated {_e(human(generated))} "
        "from the xbmon evidence store, with the queries of the Grafana dashboard</p></header>"
        f"<main>{body}</main><footer>Self-contained page: no scripts, no network. Bytes in "
        "IEC units; times in UTC; individuals = subjects + sensitive subjects.</footer>"
        "</body></html>\n"
    )
