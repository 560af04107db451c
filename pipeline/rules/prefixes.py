"""Longest-prefix attribution of source addresses to enterprises by their `egress_cidrs`.

One hash map per prefix length: a lookup masks the address once per length actually in use
(at most 33 for IPv4, 129 for IPv6), so cost does not grow with the number of ranges. Egress
addresses repeat (an exporter sends from a few hosts), so answers are memoised per address
until the ranges change.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

MEMO_LIMIT = 1 << 18  # addresses remembered; cleared whole when full (bounded memory)


class PrefixIndex:
    """Maps networks to owners; `lookup` returns the owner of the longest matching network."""

    def __init__(self) -> None:
        # version -> prefix length -> network address as int -> owner
        self._tables: dict[int, dict[int, dict[int, str]]] = {4: {}, 6: {}}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}
        self._masks: dict[int, list[tuple[int, int]]] = {4: [], 6: []}  # (length, mask)
        self._memo: dict[Address, str | None] = {}

    def _changed(self, version: int) -> None:
        lengths = sorted(self._tables[version], reverse=True)
        bits = 32 if version == 4 else 128
        self._lengths[version] = lengths
        self._masks[version] = [
            (length, ((1 << length) - 1) << (bits - length) if length else 0) for length in lengths
        ]
        self._memo.clear()

    def add(self, network: Network, owner: str) -> None:
        table = self._tables[network.version].setdefault(network.prefixlen, {})
        table[int(network.network_address)] = owner
        self._changed(network.version)

    def remove_owner(self, owner: str) -> None:
        for version, by_length in self._tables.items():
            for length in list(by_length):
                table = by_length[length]
                for key in [k for k, v in table.items() if v == owner]:
                    del table[key]
                if not table:
                    del by_length[length]
            self._changed(version)

    def lookup(self, address: Address) -> str | None:
        try:
            return self._memo[address]
        except KeyError:
            pass
        value = int(address)
        tables = self._tables[address.version]
        found: str | None = None
        for length, mask in self._masks[address.version]:
            found = tables[length].get(value & mask)
            if found is not None:
                break
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[address] = found
        return found
