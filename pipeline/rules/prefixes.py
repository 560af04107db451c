"""Longest-prefix attribution of source addresses to enterprises by their `egress_cidrs`.

One hash map per prefix length: a lookup masks the address once per length actually in use
(at most 33 for IPv4, 129 for IPv6), so cost does not grow with the number of ranges.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


class PrefixIndex:
    """Maps networks to owners; `lookup` returns the owner of the longest matching network."""

    def __init__(self) -> None:
        # version -> prefix length -> network address as int -> owner
        self._tables: dict[int, dict[int, dict[int, str]]] = {4: {}, 6: {}}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}

    def add(self, network: Network, owner: str) -> None:
        table = self._tables[network.version].setdefault(network.prefixlen, {})
        table[int(network.network_address)] = owner
        self._lengths[network.version] = sorted(self._tables[network.version], reverse=True)

    def remove_owner(self, owner: str) -> None:
        for version, by_length in self._tables.items():
            for length in list(by_length):
                table = by_length[length]
                for key in [k for k, v in table.items() if v == owner]:
                    del table[key]
                if not table:
                    del by_length[length]
            self._lengths[version] = sorted(by_length, reverse=True)

    def lookup(self, address: Address) -> str | None:
        version = address.version
        bits = 32 if version == 4 else 128
        value = int(address)
        tables = self._tables[version]
        for length in self._lengths[version]:
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            owner = tables[length].get(value & mask)
            if owner is not None:
                return owner
        return None
