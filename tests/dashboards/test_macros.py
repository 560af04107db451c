"""The ClickHouse plugin's macros, expanded to the text its backend produces
(grafana/clickhouse-datasource pkg/macros/macros.go), and variables refused unless plain ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.macros import MacroError, TimeRange, expand, expand_macros, expand_variables

START = datetime(2025, 3, 3, 0, 0, 0, tzinfo=UTC)  # 1740960000
END = datetime(2025, 3, 4, 12, 30, 0, 500000, tzinfo=UTC)  # 1741091400.5
RANGE = TimeRange(START, END, timedelta(minutes=5))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__fromTime", "toDateTime(1740960000)"),
        ("$__toTime", "toDateTime(1741091400)"),
        ("$__fromTime_ms", "fromUnixTimestamp64Milli(1740960000000)"),
        ("$__toTime_ms", "fromUnixTimestamp64Milli(1741091400500)"),
        ("$__timeFilter(ts)", "ts >= toDateTime(1740960000) AND ts <= toDateTime(1741091400)"),
        (
            "$__timeFilter_ms(ts)",
            "ts >= fromUnixTimestamp64Milli(1740960000000) AND "
            "ts <= fromUnixTimestamp64Milli(1741091400500)",
        ),
        ("$__dateFilter(d)", "d >= toDate('2025-03-03') AND d <= toDate('2025-03-04')"),
        (
            "$__dt(d, t)",
            "(d >= toDate('2025-03-03') AND d <= toDate('2025-03-04')) AND "
            "(t >= toDateTime(1740960000) AND t <= toDateTime(1741091400))",
        ),
        ("$__timeInterval(ts)", "toStartOfInterval(toDateTime(ts), INTERVAL 300 second)"),
        (
            "$__timeInterval_ms(ts)",
            "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 300000 millisecond)",
        ),
        ("$__interval_s", "300"),
        ("$__toTime + INTERVAL 30 DAY", "toDateTime(1741091400) + INTERVAL 30 DAY"),
    ],
)
def test_macros_expand_as_the_plugin_does(sql: str, expected: str) -> None:
    assert expand_macros(sql, RANGE) == expected


def test_an_interval_below_a_second_is_one_second() -> None:
    tiny = TimeRange(START, END, timedelta(milliseconds=20))
    assert expand_macros("$__interval_s", tiny) == "1"


def test_unknown_macros_and_wrong_arguments_are_errors() -> None:
    with pytest.raises(MacroError, match="unknown macro"):
        expand_macros("$__timeFitler(ts)", RANGE)
    with pytest.raises(MacroError, match="expects 1 argument"):
        expand_macros("$__timeFilter(a, b)", RANGE)
    with pytest.raises(MacroError, match="ends before"):
        TimeRange(END, START, timedelta(hours=1))
    with pytest.raises(MacroError, match="timezone-aware"):
        TimeRange(START.replace(tzinfo=None), END, timedelta(hours=1))


def test_variables_are_substituted_first_and_must_be_plain_ids() -> None:
    text = "SELECT * FROM ${database}.t WHERE e = '$enterprise' AND $__timeFilter(ts)"
    out = expand(text, RANGE, {"database": "xbmon", "enterprise": "91110000600037341L"})
    assert out.startswith("SELECT * FROM xbmon.t WHERE e = '91110000600037341L' AND ts >= ")
    with pytest.raises(MacroError, match="has no value"):
        expand_variables("${database}.t", {})
    for bad in ("x'; DROP TABLE t; --", "a b", ""):
        with pytest.raises(MacroError, match="not a plain id"):
            expand_variables("'${enterprise}'", {"enterprise": bad})
