from __future__ import annotations

from ipaddress import ip_address, ip_network

from pipeline.rules.prefixes import PrefixIndex


def build(*pairs: tuple[str, str]) -> PrefixIndex:
    index = PrefixIndex()
    for network, owner in pairs:
        index.add(ip_network(network), owner)
    return index


def test_longest_prefix_wins() -> None:
    index = build(("203.0.0.0/8", "wide"), ("203.0.113.0/24", "narrow"), ("203.0.113.7/32", "host"))
    assert index.lookup(ip_address("203.0.113.7")) == "host"
    assert index.lookup(ip_address("203.0.113.8")) == "narrow"
    assert index.lookup(ip_address("203.9.9.9")) == "wide"
    assert index.lookup(ip_address("198.51.100.1")) is None


def test_ipv6_and_ipv4_are_separate() -> None:
    index = build(("2001:db8::/32", "six"), ("0.0.0.0/0", "default4"))
    assert index.lookup(ip_address("2001:db8::1")) == "six"
    assert index.lookup(ip_address("2001:db9::1")) is None
    assert index.lookup(ip_address("8.8.8.8")) == "default4"


def test_remove_owner_falls_back_to_shorter_prefix() -> None:
    index = build(("10.0.0.0/8", "a"), ("10.1.0.0/16", "b"))
    index.remove_owner("b")
    assert index.lookup(ip_address("10.1.2.3")) == "a"
    index.remove_owner("a")
    assert index.lookup(ip_address("10.1.2.3")) is None


def test_many_ranges_resolve_exactly() -> None:
    index = PrefixIndex()
    for i in range(5000):
        index.add(ip_network(f"{100 + i // 256}.{i % 256}.0.0/16"), f"e{i}")
    assert index.lookup(ip_address("100.5.1.1")) == "e5"
    assert index.lookup(ip_address("119.135.255.255")) == "e4999"
