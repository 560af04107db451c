"""Per-enterprise state the procedure accumulates: yearly counts, quotas, notices, dedup.

Plain data owned by the caller (the replay loop, or a stream table), so the rule functions
stay free of I/O and the state can be serialised and recovered.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING

from pipeline.rules.categories import matches_any

if TYPE_CHECKING:
    from pipeline.scoring.model import FindingRecord


@dataclass
class YearCounters:
    """Totals of one enterprise in one calendar year (Asia/Shanghai by default)."""

    subjects: int = 0  # S: counted transfers only
    sensitive: int = 0  # Z: counted transfers only
    # subjects + sensitive subjects per distinct category set of transfers not exempt by
    # steps 1-2; an item's count is the sum over the sets it matches (each transfer once).
    category_sets: dict[frozenset[str], int] = field(default_factory=dict)
    filing_used: dict[str, int] = field(default_factory=dict)  # quota use per filing

    def item_count(self, prefixes: list[str]) -> int:
        return sum(
            amount
            for categories, amount in self.category_sets.items()
            if any(matches_any(prefixes, c) for c in categories)
        )


@dataclass
class WindowAggregate:
    """What was declared and what was seen for one enterprise, country and window."""

    declared_bytes: int = 0
    declared_logs: int = 0
    declared_categories: set[str] = field(default_factory=set)
    observed_bytes: int = 0
    observed_flows: int = 0
    observed_dlp: set[str] = field(default_factory=set)
    # The state codec's encoding of this window, dropped on every change (not persisted): an
    # enterprise's state is written after each batch that touches it, its open windows mostly
    # unchanged.
    encoded: bytes | None = field(default=None, compare=False, repr=False)

    def declare(self, nbytes: int, categories: list[str]) -> None:
        self.declared_bytes += nbytes
        self.declared_logs += 1
        self.declared_categories.update(categories)
        self.encoded = None

    def observe(self, nbytes: int, flows: int, dlp_categories: Iterable[str]) -> None:
        self.observed_bytes += nbytes
        self.observed_flows += flows
        self.observed_dlp.update(dlp_categories)
        self.encoded = None

    def as_evidence(self) -> dict[str, object]:
        return {
            "declared_bytes": self.declared_bytes,
            "declared_logs": self.declared_logs,
            "declared_categories": sorted(self.declared_categories),
            "observed_bytes": self.observed_bytes,
            "observed_flows": self.observed_flows,
            "observed_dlp_categories": sorted(self.observed_dlp),
        }


WindowKey = tuple[str, datetime]  # destination country, window start (UTC)
KeptFinding = tuple[str, str, str, datetime]  # finding_id, rule_id, severity, ts
kept_ts = itemgetter(3)  # a kept finding's ts: a sort or bisect key, in C


@dataclass
class StoredDays:
    """What the state codec last wrote of a profile's alerts and kept findings (not
    persisted). They are written in entries of one day each, and only the days that changed:
    as part of the state value they were ~95 % of the ~80 KB written per enterprise every
    flush, where a flush changes about one day of them."""

    alerts: dict[str, str] = field(default_factory=dict)  # alert id -> JSON as written
    alert_days: dict[str, str] = field(default_factory=dict)  # alert id -> its entry's day
    findings: dict[str, list[KeptFinding]] = field(default_factory=dict)  # day -> as written
    kept: list[KeptFinding] = field(default_factory=list)  # the profile's findings as written
    days: list[str] = field(default_factory=list)  # the days with an entry, sorted


@dataclass
class ScoringProfile:
    """What the credit + risk scoring needs to remember about an enterprise (its calendar year
    of exports, recent findings, its last score and today's alerts); kept with the state so
    one table value persists an enterprise."""

    year: int | None = None
    logs: int = 0
    late_logs: int = 0
    important_transfers: int = 0
    bytes_by_country: dict[str, int] = field(default_factory=dict)
    declared_bytes: int = 0
    observed_bytes: int = 0
    monitored_since: datetime | None = None
    # (finding_id, rule_id, severity, ts) of recent findings, oldest first, bounded
    findings: list[KeptFinding] = field(default_factory=list)
    resolved: set[str] = field(default_factory=set)  # finding ids whose alert was resolved
    score: dict[str, object] | None = None  # last credit, risk, tier, computed_at
    alerts: dict[str, str] = field(default_factory=dict)  # alert_id -> Alert JSON (recent days)
    # When `alerts` was last pruned (not persisted: a recovered profile is pruned at once).
    alerts_pruned_at: datetime | None = field(default=None, compare=False, repr=False)
    # The scoring model's record of each kept finding, by finding id (not persisted: rebuilt
    # on demand). Every re-score reads all of them; building them anew was most of its cost.
    records: dict[str, FindingRecord] = field(default_factory=dict, compare=False, repr=False)
    stored: StoredDays = field(default_factory=StoredDays, compare=False, repr=False)


@dataclass
class EnterpriseState:
    """Everything the engine remembers about one enterprise; persisted as one value."""

    years: dict[int, YearCounters] = field(default_factory=dict)
    # transfer_ids already evaluated: the recent ones (persisted with the state) and the
    # archived ones (persisted once, in chunks of their own, so the value written after every
    # batch stays small however long the enterprise's history).
    seen_transfers: set[str] = field(default_factory=set)
    seen_archive: set[str] = field(default_factory=set, compare=False, repr=False)
    archived_chunks: int = 0
    expiring_notified: set[str] = field(default_factory=set)
    windows: dict[WindowKey, WindowAggregate] = field(default_factory=dict)
    # Stream bookkeeping: the last offset of each input topic applied to this state, so a
    # message redelivered after a crash (state saved, offset not yet committed) is not
    # applied twice. Logs are also guarded by `seen_transfers`; aggregates only by this.
    applied_offsets: dict[str, int] = field(default_factory=dict)
    profile: ScoringProfile = field(default_factory=ScoringProfile)
    # Start of the earliest open window, None when unknown (not persisted): lets the engine
    # skip an enterprise without a due window without looking at each of its windows.
    earliest_window: datetime | None = field(default=None, compare=False, repr=False)
    # The open windows' keys in order, None when unknown (not persisted): the state is
    # encoded after every batch, its windows opened and closed far less often.
    window_order: list[tuple[WindowKey, WindowAggregate]] | None = field(
        default=None, compare=False, repr=False
    )

    def window(self, key: WindowKey) -> WindowAggregate:
        found = self.windows.get(key)
        if found is None:
            found = self.windows[key] = WindowAggregate()
            if self.window_order is not None:  # kept in order: re-sorting was a third of encoding
                self.window_order.insert(
                    bisect_left(self.window_order, key, key=_key_of), (key, found)
                )
            if self.earliest_window is not None and key[1] < self.earliest_window:
                self.earliest_window = key[1]
        return found

    def close_window(self, key: WindowKey) -> WindowAggregate:
        closed = self.windows.pop(key)
        if self.window_order is not None:
            index = bisect_left(self.window_order, key, key=_key_of)
            assert self.window_order[index][0] == key, "window order out of step"
            del self.window_order[index]
        return closed

    def ordered_windows(self) -> list[tuple[WindowKey, WindowAggregate]]:
        """The open windows by country and start (sorted once, then kept in order)."""
        if self.window_order is None:
            self.window_order = sorted(self.windows.items(), key=_key_of)
        return self.window_order

    def earliest(self) -> datetime | None:
        """Start of the earliest open window (None: no window open)."""
        if self.earliest_window is None and self.windows:
            self.earliest_window = min(start for _, start in self.windows)
        return self.earliest_window if self.windows else None

    def seen(self, transfer_id: str) -> bool:
        return transfer_id in self.seen_transfers or transfer_id in self.seen_archive

    def archive_seen(self, limit: int) -> tuple[int, set[str]] | None:
        """Move the recent ids to the archive once there are `limit`; (chunk index, ids)."""
        if len(self.seen_transfers) < limit:
            return None
        chunk, index = self.seen_transfers, self.archived_chunks
        self.seen_archive |= chunk
        self.seen_transfers = set()
        self.archived_chunks += 1
        return index, chunk

    def year(self, year: int) -> YearCounters:
        counters = self.years.get(year)
        if counters is None:
            counters = self.years[year] = YearCounters()
        return counters


def _key_of(item: tuple[WindowKey, WindowAggregate]) -> WindowKey:
    return item[0]
