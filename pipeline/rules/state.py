"""Per-enterprise state the procedure accumulates: yearly counts, quotas, notices, dedup.

Plain data owned by the caller (the replay loop, or a stream table), so the rule functions
stay free of I/O and the state can be serialised and recovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.rules.categories import matches_any


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
class EnterpriseState:
    years: dict[int, YearCounters] = field(default_factory=dict)
    seen_transfers: set[str] = field(default_factory=set)
    expiring_notified: set[str] = field(default_factory=set)

    def year(self, year: int) -> YearCounters:
        counters = self.years.get(year)
        if counters is None:
            counters = self.years[year] = YearCounters()
        return counters
