"""Grafana's ClickHouse macros and template variables, expanded exactly as Grafana would.

The dashboards' SQL is written for the official data source plugin
(`grafana-clickhouse-datasource`, `pkg/macros/macros.go`): Grafana's frontend substitutes the
template variables, then the plugin's backend expands `$__name(args)` macros against the
panel's time range and interval. The test suite and `xbmon report` run the same text through
this module, so a query that works here works in Grafana and the report cannot drift from the
dashboard. Only integers (epoch seconds, milliseconds, interval seconds), dates and validated
identifiers or ids are ever put into the SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

_MACRO: Final = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")
_VARIABLE: Final = re.compile(r"\$\{(\w+)\}|\$(?!__)(\w+)")
_SAFE_VALUE: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class MacroError(ValueError):
    """A macro or variable the query uses that cannot be expanded."""


@dataclass(frozen=True)
class TimeRange:
    """A panel's time range and interval (Grafana's `$__interval`, at least one second)."""

    start: datetime
    end: datetime
    interval: timedelta

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is None or value.utcoffset() is None:
                raise MacroError("time range bounds must be timezone-aware")
        if self.end < self.start:
            raise MacroError("the time range ends before it starts")


def _seconds(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _millis(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _date(t: datetime) -> str:
    return f"toDate('{t.astimezone(UTC):%Y-%m-%d}')"


def _interval_s(r: TimeRange) -> int:
    return max(int(r.interval.total_seconds()), 1)


def _interval_ms(r: TimeRange) -> int:
    return max(int(r.interval.total_seconds() * 1000), 1)


Macro = Callable[[TimeRange, list[str]], str]


def _one(name: str, build: Callable[[TimeRange, str], str]) -> Macro:
    def expand(r: TimeRange, args: list[str]) -> str:
        if len(args) != 1:
            raise MacroError(f"$__{name} expects 1 argument, got {len(args)}")
        return build(r, args[0])

    return expand


def _none(build: Callable[[TimeRange], str]) -> Macro:
    return lambda r, _args: build(r)


def _date_time_filter(r: TimeRange, args: list[str]) -> str:
    if len(args) != 2:
        raise MacroError(f"$__dateTimeFilter expects 2 arguments, got {len(args)}")
    d, t = args
    return (
        f"({d} >= {_date(r.start)} AND {d} <= {_date(r.end)}) AND "
        f"({t} >= {_seconds(r.start)} AND {t} <= {_seconds(r.end)})"
    )


MACROS: Final[Mapping[str, Macro]] = {
    "fromTime": _none(lambda r: _seconds(r.start)),
    "toTime": _none(lambda r: _seconds(r.end)),
    "fromTime_ms": _none(lambda r: _millis(r.start)),
    "toTime_ms": _none(lambda r: _millis(r.end)),
    "timeFilter": _one(
        "timeFilter", lambda r, c: f"{c} >= {_seconds(r.start)} AND {c} <= {_seconds(r.end)}"
    ),
    "timeFilter_ms": _one(
        "timeFilter_ms", lambda r, c: f"{c} >= {_millis(r.start)} AND {c} <= {_millis(r.end)}"
    ),
    "dateFilter": _one(
        "dateFilter", lambda r, c: f"{c} >= {_date(r.start)} AND {c} <= {_date(r.end)}"
    ),
    "dateTimeFilter": _date_time_filter,
    "dt": _date_time_filter,
    "timeInterval": _one(
        "timeInterval",
        lambda r, c: f"toStartOfInterval(toDateTime({c}), INTERVAL {_interval_s(r)} second)",
    ),
    "timeInterval_ms": _one(
        "timeInterval_ms",
        lambda r, c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {_interval_ms(r)} millisecond)"
        ),
    ),
    "interval_s": _none(lambda r: str(_interval_s(r))),
}


def expand_variables(sql: str, variables: Mapping[str, str]) -> str:
    """Substitute `${name}` / `$name` template variables (not `$__` macros).

    Values are ids and identifiers only (letters, digits, `_.:-`): anything else is refused
    rather than quoted, so a variable can never change the statement's shape.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise MacroError(f"template variable ${name} has no value")
        value = variables[name]
        if not _SAFE_VALUE.match(value):
            raise MacroError(f"template variable ${name}: {value!r} is not a plain id")
        return value

    return _VARIABLE.sub(substitute, sql)


def expand_macros(sql: str, time_range: TimeRange) -> str:
    """Expand the ClickHouse plugin's `$__` macros; an unknown macro is an error."""

    def substitute(match: re.Match[str]) -> str:
        name, raw_args = match.group(1), match.group(2)
        macro = MACROS.get(name)
        if macro is None:
            raise MacroError(f"unknown macro $__{name}")
        args = [] if raw_args is None else [a.strip() for a in raw_args.split(",")]
        return macro(time_range, args)

    return _MACRO.sub(substitute, sql)


def expand(sql: str, time_range: TimeRange, variables: Mapping[str, str]) -> str:
    """What the plugin sends to ClickHouse: variables first (Grafana), then macros (plugin)."""
    return expand_macros(expand_variables(sql, variables), time_range)
