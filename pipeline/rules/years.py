"""Calendar arithmetic in the regulator's time zone (cumulative counts run from 1 January)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def calendar_year(ts: datetime, zone: ZoneInfo) -> int:
    """The calendar year `ts` falls in, in `zone` (23:30 on 31 Dec Beijing time is that year).

    Asked twice per transfer: comparing with the cached instants the years begin costs a
    quarter of converting `ts` to the zone (`ts.astimezone(zone).year`, its definition).
    """
    year = ts.year  # in whatever zone `ts` carries: the local year is this one or a neighbour
    if ts >= _year_begins(year + 1, zone):
        return year + 1
    if ts < _year_begins(year, zone):
        return year - 1
    return year


@lru_cache(maxsize=1024)
def _year_begins(year: int, zone: ZoneInfo) -> datetime:
    """The instant of local midnight on 1 January of `year`, in UTC (compared without offsets
    with the UTC datetimes the engine holds)."""
    return datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=65536)  # asked per transfer for every filing held (its validity end)
def add_calendar_years(ts: datetime, years: int, zone: ZoneInfo) -> datetime:
    """`ts` plus whole calendar years in `zone`; 29 February becomes 28 February."""
    local = ts.astimezone(zone)
    try:
        shifted = local.replace(year=local.year + years)
    except ValueError:  # 29 February in a non-leap target year
        shifted = local.replace(year=local.year + years, day=28)
    # Re-localise so a shifted wall time picks the offset in force on the new date.
    naive = shifted.replace(tzinfo=None)
    return naive.replace(tzinfo=zone).astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MINUTES = 24 * 60


def window_start(ts: datetime, minutes: int) -> datetime:
    """Start of the tumbling window of `minutes` holding `ts`, aligned to the UTC hour/day.

    Asked for every flow and log: windows that tile a day are numbered from the epoch in
    exact integer arithmetic and each start is built once (the calendar arithmetic below cost
    a twelfth of a flow batch). Windows that do not tile a day restart at each UTC midnight.
    """
    if _DAY_MINUTES % minutes:
        utc = ts.astimezone(UTC)
        midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
        elapsed = (utc - midnight) // timedelta(minutes=minutes)
        return midnight + elapsed * timedelta(minutes=minutes)
    return _numbered_window((ts - _EPOCH) // _width(minutes), minutes)


@lru_cache(maxsize=64)
def _width(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


@lru_cache(maxsize=65536)
def _numbered_window(index: int, minutes: int) -> datetime:
    return _EPOCH + index * _width(minutes)
