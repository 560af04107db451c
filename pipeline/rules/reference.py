"""Indexed reference data: enterprises, filings and negative-list entries.

Mutable by upsert so the stream can apply a new or revoked filing to the next transfer; the
engine reads it through the lookups below and never scans the whole set.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pipeline.rules.prefixes import Address, PrefixIndex
from schemas.models import Enterprise, Filing, NegativeListEntry

DEFAULT_SECTOR = "other"


def default_enterprise(enterprise_id: str) -> Enterprise:
    """How an enterprise missing from the reference data is evaluated (spec: non-CIIO, `other`)."""
    return Enterprise.model_construct(
        enterprise_id=enterprise_id,
        name="",
        sector=DEFAULT_SECTOR,
        region="",
        ftz=None,
        is_ciio=False,
        egress_cidrs=[],
    )


def entry_in_force(entry: NegativeListEntry, ts: datetime) -> bool:
    return (entry.effective_from is None or entry.effective_from <= ts) and (
        entry.effective_until is None or ts <= entry.effective_until
    )


def entry_applies_to(entry: NegativeListEntry, enterprise: Enterprise) -> bool:
    """Sector match, and a city-wide edition's region or else the entry's FTZ (spec)."""
    if entry.sector != enterprise.sector:
        return False
    if entry.region is not None:
        return entry.region == enterprise.region
    return enterprise.ftz is not None and entry.ftz == enterprise.ftz


class ReferenceIndex:
    """Enterprises by id, filings by id and by enterprise, list entries by sector, CIDRs."""

    def __init__(self) -> None:
        self.enterprises: dict[str, Enterprise] = {}
        self.filings: dict[str, Filing] = {}
        self._filings_by_enterprise: dict[str, dict[str, Filing]] = defaultdict(dict)
        self._entries: dict[tuple[str, str], NegativeListEntry] = {}
        self._entries_by_sector: dict[str, list[NegativeListEntry]] = defaultdict(list)
        # Negative lists compiled per (sector, region, ftz): every transfer asks, lists rarely
        # change; dropped whole when an entry does.
        self._compiled: dict[tuple[str, str, str | None], list[NegativeListEntry]] = {}
        self._prefixes = PrefixIndex()
        # JSON forms of the enterprises and filings evidence bundles quote, by kind and id.
        self._json: dict[tuple[str, str], tuple[Enterprise | Filing, dict[str, Any]]] = {}

    @classmethod
    def build(
        cls,
        enterprises: list[Enterprise],
        filings: list[Filing],
        negative_list: list[NegativeListEntry],
    ) -> ReferenceIndex:
        index = cls()
        for enterprise in enterprises:
            index.upsert_enterprise(enterprise)
        for filing in filings:
            index.upsert_filing(filing)
        for entry in negative_list:
            index.upsert_entry(entry)
        return index

    # --- updates -------------------------------------------------------------------------
    def upsert_enterprise(self, enterprise: Enterprise) -> None:
        if enterprise.enterprise_id in self.enterprises:
            self._prefixes.remove_owner(enterprise.enterprise_id)
        self.enterprises[enterprise.enterprise_id] = enterprise
        for network in enterprise.egress_cidrs:
            self._prefixes.add(network, enterprise.enterprise_id)

    def upsert_filing(self, filing: Filing) -> None:
        previous = self.filings.get(filing.filing_id)
        if previous is not None:
            self._filings_by_enterprise[previous.enterprise_id].pop(filing.filing_id, None)
        self.filings[filing.filing_id] = filing
        self._filings_by_enterprise[filing.enterprise_id][filing.filing_id] = filing

    def upsert_entry(self, entry: NegativeListEntry) -> None:
        key = (entry.list_id, entry.item_id)
        previous = self._entries.get(key)
        if previous is not None:
            self._entries_by_sector[previous.sector].remove(previous)
        self._entries[key] = entry
        self._entries_by_sector[entry.sector].append(entry)
        self._compiled.clear()

    def remove_enterprise(self, enterprise_id: str) -> None:
        self._json.pop(("enterprise", enterprise_id), None)
        if self.enterprises.pop(enterprise_id, None) is not None:
            self._prefixes.remove_owner(enterprise_id)

    def remove_filing(self, filing_id: str) -> None:
        self._json.pop(("filing", filing_id), None)
        previous = self.filings.pop(filing_id, None)
        if previous is not None:
            self._filings_by_enterprise[previous.enterprise_id].pop(filing_id, None)

    def remove_entry(self, list_id: str, item_id: str) -> None:
        previous = self._entries.pop((list_id, item_id), None)
        if previous is not None:
            self._entries_by_sector[previous.sector].remove(previous)
            self._compiled.clear()

    def counts(self) -> dict[str, int]:
        return {
            "enterprises": len(self.enterprises),
            "filings": len(self.filings),
            "negative_list": len(self._entries),
        }

    # --- lookups -------------------------------------------------------------------------
    def enterprise(self, enterprise_id: str) -> Enterprise:
        found = self.enterprises.get(enterprise_id)
        return found if found is not None else default_enterprise(enterprise_id)

    def filing(self, filing_id: str) -> Filing | None:
        return self.filings.get(filing_id)

    def json_of(self, model: Enterprise | Filing) -> dict[str, Any]:
        """`model.model_dump(mode="json")`, dumped once per version: callers must not modify it.

        Every finding's evidence quotes its enterprise and the filings examined; dumping them
        anew (their networks and datetimes formatted) cost a tenth of a finding.
        """
        if isinstance(model, Enterprise):
            key = ("enterprise", model.enterprise_id)
        else:
            key = ("filing", model.filing_id)
        cached = self._json.get(key)
        if cached is not None and cached[0] is model:
            return cached[1]
        dumped = model.model_dump(mode="json")
        self._json[key] = (model, dumped)
        return dumped

    def filings_of(self, enterprise_id: str) -> list[Filing]:
        """The enterprise's filings, ordered by `filing_id` for deterministic choices."""
        held = self._filings_by_enterprise.get(enterprise_id)
        return [held[k] for k in sorted(held)] if held else []

    def entries_for(self, enterprise: Enterprise) -> list[NegativeListEntry]:
        """Entries applying to the enterprise, in force or not (counts need every edition).

        Ordered by (list_id, item_id); the caller must not modify the list.
        """
        key = (enterprise.sector, enterprise.region, enterprise.ftz)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = sorted(
                (
                    e
                    for e in self._entries_by_sector.get(enterprise.sector, ())
                    if entry_applies_to(e, enterprise)
                ),
                key=lambda e: (e.list_id, e.item_id),
            )
            self._compiled[key] = compiled
        return compiled

    def attribute(self, address: Address) -> str | None:
        """The enterprise whose longest `egress_cidrs` prefix contains `address`."""
        return self._prefixes.lookup(address)
