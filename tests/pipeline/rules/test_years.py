from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.years import add_calendar_years, calendar_year, window_start

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEIJING = timezone(timedelta(hours=8))


def test_year_follows_beijing_calendar_not_utc() -> None:
    late = datetime(2024, 12, 31, 23, 30, tzinfo=BEIJING)
    early = datetime(2025, 1, 1, 0, 30, tzinfo=BEIJING)
    assert late.astimezone(UTC).date() == early.astimezone(UTC).date()  # same UTC day
    assert calendar_year(late, SHANGHAI) == 2024
    assert calendar_year(early, SHANGHAI) == 2025


@given(
    ts=st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, BEIJING, SHANGHAI, timezone(timedelta(hours=-9.5))]),
    ),
    zone=st.sampled_from(
        [
            SHANGHAI,
            ZoneInfo("UTC"),
            ZoneInfo("Pacific/Kiritimati"),
            ZoneInfo("Pacific/Pago_Pago"),
            ZoneInfo("America/St_Johns"),
            ZoneInfo("Australia/Lord_Howe"),
        ]
    ),
)
def test_calendar_year_is_the_year_of_the_local_date(ts: datetime, zone: ZoneInfo) -> None:
    assert calendar_year(ts, zone) == ts.astimezone(zone).year


ZONES = [SHANGHAI, UTC, BEIJING, timezone(timedelta(hours=-9.5)), ZoneInfo("Pacific/Kiritimati")]


@given(
    year=st.integers(1971, 2199),
    minutes=st.integers(-48 * 60, 48 * 60),  # around New Year, where the zones disagree
    carried=st.sampled_from(ZONES),
    zone=st.sampled_from([*ZONES[:1], ZoneInfo("Pacific/Pago_Pago"), ZoneInfo("UTC")]),
)
def test_calendar_year_around_new_year(
    year: int, minutes: int, carried: timezone | ZoneInfo, zone: ZoneInfo
) -> None:
    ts = (datetime(year, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)).astimezone(carried)
    assert calendar_year(ts, zone) == ts.astimezone(zone).year


def test_calendar_year_changes_at_local_midnight_to_the_microsecond() -> None:
    begins = datetime(2025, 1, 1, tzinfo=BEIJING)
    assert calendar_year(begins.astimezone(UTC), SHANGHAI) == 2025
    assert calendar_year((begins - timedelta(microseconds=1)).astimezone(UTC), SHANGHAI) == 2024


def test_three_years_after_approval() -> None:
    approved = datetime(2024, 3, 1, 0, 0, tzinfo=BEIJING)
    assert add_calendar_years(approved, 3, SHANGHAI) == datetime(2027, 3, 1, tzinfo=BEIJING)


def test_29_february_becomes_28_february() -> None:
    approved = datetime(2024, 2, 29, 10, 0, tzinfo=BEIJING)
    assert add_calendar_years(approved, 3, SHANGHAI) == datetime(2027, 2, 28, 10, tzinfo=BEIJING)
    # A leap target year keeps the day.
    assert add_calendar_years(approved, 4, SHANGHAI) == datetime(2028, 2, 29, 10, tzinfo=BEIJING)


def test_years_are_counted_in_the_zone_not_in_utc() -> None:
    # 1 March 00:30 Beijing is still 28/29 February in UTC.
    approved = datetime(2025, 3, 1, 0, 30, tzinfo=BEIJING)
    assert add_calendar_years(approved, 3, SHANGHAI) == datetime(2028, 3, 1, 0, 30, tzinfo=BEIJING)


def test_windows_align_to_the_utc_hour() -> None:
    ts = datetime(2025, 5, 1, 10, 59, 59, tzinfo=BEIJING)  # 02:59:59Z
    assert window_start(ts, 60) == datetime(2025, 5, 1, 2, tzinfo=UTC)
    assert window_start(datetime(2025, 5, 1, 3, tzinfo=UTC), 60) == datetime(
        2025, 5, 1, 3, tzinfo=UTC
    )
    assert window_start(datetime(2025, 5, 1, 3, 44, tzinfo=UTC), 15) == datetime(
        2025, 5, 1, 3, 30, tzinfo=UTC
    )


def _by_calendar(ts: datetime, minutes: int) -> datetime:
    """The definition: whole windows of `minutes` since the UTC midnight before `ts`."""
    utc = ts.astimezone(UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (utc - midnight) // timedelta(minutes=minutes) * timedelta(minutes=minutes)


@given(
    ts=st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, BEIJING, SHANGHAI, timezone(timedelta(hours=-9.5))]),
    ),
    minutes=st.sampled_from([1, 5, 7, 15, 45, 60, 90, 360, 1440]),
)
def test_window_start_is_the_calendar_definition_for_any_width_and_zone(
    ts: datetime, minutes: int
) -> None:
    start = window_start(ts, minutes)
    assert start == _by_calendar(ts, minutes)
    assert start.tzinfo is UTC
    assert start <= ts < start + timedelta(minutes=minutes)


def test_window_bounds_are_exact_to_the_microsecond() -> None:
    boundary = datetime(2026, 11, 22, 3, tzinfo=UTC)
    assert window_start(boundary, 60) == boundary
    assert window_start(boundary - timedelta(microseconds=1), 60) == boundary - timedelta(hours=1)
