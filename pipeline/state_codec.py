"""Enterprise state <-> bytes, for changelog-backed tables (restart recovery).

Deterministic JSON (sorted sets) so the same state always encodes to the same bytes. A
state is one value plus entries of one day each for its scoring profile's alerts and kept
findings (~95 % of the bytes, changed about one day at a time): `encode_state` returns the
value and the day entries that changed since the last call for that state.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import orjson

from pipeline.kept_json import dumps_kept
from pipeline.rules.state import (
    EnterpriseState,
    KeptFinding,
    ScoringProfile,
    StoredDays,
    WindowAggregate,
    WindowKey,
    YearCounters,
    kept_ts,
)
from pipeline.stream_batch import partition_of
from schemas.types import format_datetime

FORMAT_VERSION = 2  # 1: alerts and findings inside the value (still read)
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z  # OPT_UTC_Z: UTC as format_datetime writes it


@dataclass(frozen=True)
class EncodedState:
    value: bytes
    days: dict[str, bytes | None]  # day -> its entry, changed since the last encoding; None: gone


def encode_state(state: EnterpriseState) -> EncodedState:
    days = _changed_days(state.profile)
    years = {
        str(year): {
            "s": c.subjects,
            "z": c.sensitive,
            "sets": sorted([sorted(cats), amount] for cats, amount in c.category_sets.items()),
            "used": c.filing_used,
        }
        for year, c in state.years.items()
    }
    # One fragment of the windows' cached encodings (hundreds open under the 24 h grace).
    windows = orjson.Fragment(
        b"["
        + b",".join([w.encoded or _encode_window(key, w) for key, w in state.ordered_windows()])
        + b"]"
    )
    document = {
        "v": FORMAT_VERSION,
        "years": years,
        "seen": sorted(state.seen_transfers),
        "chunks": state.archived_chunks,
        "notified": sorted(state.expiring_notified),
        "windows": windows,
        "offsets": state.applied_offsets,
        "profile": _encode_profile(state.profile),
    }
    return EncodedState(dumps_kept(document, option=_OPTIONS), days)  # the table keeps it


def _encode_window(key: WindowKey, w: WindowAggregate) -> bytes:
    """Encode a window and keep its bytes on it until it changes."""
    country, start = key
    w.encoded = dumps_kept(
        [
            country,
            format_datetime(start),
            w.declared_bytes,
            w.declared_logs,
            sorted(w.declared_categories),
            w.observed_bytes,
            w.observed_flows,
            sorted(w.observed_dlp),
        ]
    )
    return w.encoded


def decode_state(value: bytes, read_day: Callable[[str], bytes | None]) -> EnterpriseState:
    """A state from its value and its day entries (`read_day`: None for a missing entry)."""
    document: dict[str, Any] = orjson.loads(value)
    if document.get("v") not in (1, FORMAT_VERSION):
        raise ValueError(f"unknown enterprise state format {document.get('v')!r}")
    state = EnterpriseState(
        seen_transfers=set(document["seen"]),
        archived_chunks=int(document.get("chunks", 0)),
        expiring_notified=set(document["notified"]),
        applied_offsets=dict(document.get("offsets", {})),
        profile=_decode_profile(document.get("profile"), read_day),
    )
    for year, c in document["years"].items():
        state.years[int(year)] = YearCounters(
            subjects=c["s"],
            sensitive=c["z"],
            category_sets={frozenset(cats): amount for cats, amount in c["sets"]},
            filing_used=dict(c["used"]),
        )
    for country, start, d_bytes, d_logs, d_cats, o_bytes, o_flows, o_dlp in document["windows"]:
        state.windows[(country, datetime.fromisoformat(start))] = WindowAggregate(
            declared_bytes=d_bytes,
            declared_logs=d_logs,
            declared_categories=set(d_cats),
            observed_bytes=o_bytes,
            observed_flows=o_flows,
            observed_dlp=set(o_dlp),
        )
    return state


def _encode_profile(p: ScoringProfile) -> dict[str, Any]:
    return {
        "year": p.year,
        "logs": p.logs,
        "late": p.late_logs,
        "important": p.important_transfers,
        "by_country": p.bytes_by_country,
        "declared": p.declared_bytes,
        "observed": p.observed_bytes,
        "since": format_datetime(p.monitored_since) if p.monitored_since else None,
        "score": p.score,
        "resolved": sorted(p.resolved),
        "days": p.stored.days,  # alerts and findings: in the entries of these days
    }


def _decode_profile(
    d: dict[str, Any] | None, read_day: Callable[[str], bytes | None]
) -> ScoringProfile:
    if d is None:
        return ScoringProfile()
    profile = ScoringProfile(
        year=d["year"],
        logs=d["logs"],
        late_logs=d["late"],
        important_transfers=d["important"],
        bytes_by_country=dict(d["by_country"]),
        declared_bytes=d["declared"],
        observed_bytes=d["observed"],
        monitored_since=datetime.fromisoformat(d["since"]) if d["since"] else None,
        score=d["score"],
        resolved=set(d.get("resolved", [])),
    )
    if "days" not in d:  # format 1: inline (every day is written at the next encoding)
        profile.findings = _decode_findings(d["findings"])
        profile.alerts = dict(d["alerts"])
        return profile
    stored = profile.stored
    for day in d["days"]:
        raw = read_day(day)
        if raw is None:
            continue  # the caller reports it; the next encoding forgets the day
        entry = orjson.loads(raw)
        stored.days.append(day)
        for alert_id, alert in entry["alerts"].items():
            profile.alerts[alert_id] = stored.alerts[alert_id] = alert
            stored.alert_days[alert_id] = day
        if entry["findings"]:
            stored.findings[day] = _decode_findings(entry["findings"])
            profile.findings.extend(stored.findings[day])  # days in order: still by ts
    stored.kept = list(profile.findings)
    return profile


def _decode_findings(raw: list[list[str]]) -> list[KeptFinding]:
    return [(i, r, s, datetime.fromisoformat(ts)) for i, r, s, ts in raw]


def _changed_days(profile: ScoringProfile) -> dict[str, bytes | None]:
    """The day entries that differ from what was last written, and note them as written."""
    stored, alerts = profile.stored, profile.alerts
    changed = _changed_alert_days(stored, alerts) | _changed_finding_days(stored, profile.findings)
    if not changed:
        return {}
    by_day: dict[str, dict[str, str]] = {day: {} for day in changed}
    for alert_id, day in stored.alert_days.items():
        if day in by_day:
            by_day[day][alert_id] = alerts[alert_id]
    entries: dict[str, bytes | None] = {}
    for day in sorted(changed):
        findings = stored.findings.get(day, [])
        entries[day] = (
            dumps_kept({"alerts": by_day[day], "findings": findings}, option=_OPTIONS)
            if by_day[day] or findings
            else None
        )
    stored.days = sorted(set(stored.alert_days.values()) | stored.findings.keys())
    return entries


def _changed_alert_days(stored: StoredDays, alerts: dict[str, str]) -> set[str]:
    """Days of the alerts bumped, raised or pruned since the last write (the supervisor
    replaces an alert's JSON when it bumps it: unchanged ones are the same objects)."""
    if alerts == stored.alerts:  # identity first, in C: the usual case
        return set()
    changed: set[str] = set()
    for alert_id, raw in alerts.items():
        if stored.alerts.get(alert_id) is not raw:
            day = stored.alert_days.get(alert_id)
            if day is None:  # a new alert: its day, once (our own JSON)
                day = stored.alert_days[alert_id] = str(orjson.loads(raw)["day"])
            changed.add(day)
    for alert_id in stored.alerts.keys() - alerts.keys():
        changed.add(stored.alert_days.pop(alert_id))
    stored.alerts = dict(alerts)
    return changed


def _changed_finding_days(stored: StoredDays, kept: list[KeptFinding]) -> set[str]:
    """Days whose kept findings changed since the last write, their groups brought up to date.

    The findings are kept by ts, pruned from the oldest, new ones mostly appended: usually
    the change is a few findings at either end, found without regrouping them all.
    """
    old = stored.kept
    if kept == old:
        return set()
    pruned = _pruned(old, kept)
    if old[pruned:] == kept[: len(old) - pruned]:  # the same ones, then appended ones
        changed = {_day(f) for f in old[:pruned]} | {_day(f) for f in kept[len(old) - pruned :]}
        for day in changed:
            group = _findings_of_day(kept, day)
            if group:
                stored.findings[day] = group
            else:
                stored.findings.pop(day, None)
    else:  # a late finding inside the list: regroup
        groups = _findings_by_day(kept)
        changed = {day for day, group in groups.items() if stored.findings.get(day) != group}
        changed.update(stored.findings.keys() - groups.keys())
        stored.findings = groups
    stored.kept = list(kept)
    return changed


def _pruned(old: list[KeptFinding], kept: list[KeptFinding]) -> int:
    """Where `kept`'s first finding is in `old` (how many were pruned), if it is there; the
    caller checks that the rest follows."""
    if not kept:
        return len(old)
    first = kept[0]
    index = bisect_left(old, first[3], key=kept_ts)
    while index < len(old) and old[index] is not first and old[index][3] == first[3]:
        index += 1  # ts ties: keep looking for the same finding
    return index


def _findings_by_day(kept: list[KeptFinding]) -> dict[str, list[KeptFinding]]:
    """Kept findings (by ts) in runs of one UTC day: a bisection per day, not a date per
    finding."""
    groups: dict[str, list[KeptFinding]] = {}
    start = 0
    while start < len(kept):
        day = kept[start][3].astimezone(UTC).date()
        end = bisect_left(kept, _midnight(day + _ONE_DAY), lo=start, key=kept_ts)
        groups[day.isoformat()] = kept[start:end]
        start = end
    return groups


def _findings_of_day(kept: list[KeptFinding], day: str) -> list[KeptFinding]:
    begins = date.fromisoformat(day)
    start = bisect_left(kept, _midnight(begins), key=kept_ts)
    return kept[start : bisect_left(kept, _midnight(begins + _ONE_DAY), lo=start, key=kept_ts)]


def _day(kept: KeptFinding) -> str:
    """The day of a finding's entry (its UTC day)."""
    return kept[3].astimezone(UTC).date().isoformat()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


_ONE_DAY = timedelta(days=1)


def encode_seen_chunk(ids: set[str]) -> bytes:
    """An archived chunk of an enterprise's evaluated transfer_ids (written once)."""
    return dumps_kept(sorted(ids))


def decode_seen_chunk(data: bytes) -> set[str]:
    return {str(i) for i in orjson.loads(data)}


def seen_chunk_key(enterprise_id: str, index: int, partitions: int) -> bytes:
    """Table key of an archived chunk of transfer ids."""
    return _salted_key(enterprise_id, str(index), partitions)


def day_key(enterprise_id: str, day: str, partitions: int) -> bytes:
    """Table key of a profile's day entry."""
    return _salted_key(enterprise_id, day, partitions)


def _salted_key(enterprise_id: str, name: str, partitions: int) -> bytes:
    """A key of one of the enterprise's entries, salted so it lands in its own partition.

    The tables are partitioned by key (murmur2, like the source topics); the worker that owns
    an enterprise must recover its entries with its state, so the key must hash like the id.
    """
    target = partition_of(enterprise_id, partitions)
    for salt in count():
        key = f"{enterprise_id}#{name}#{salt}"
        if partition_of(key, partitions) == target:
            return key.encode()
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends
