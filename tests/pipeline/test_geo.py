"""Offline GeoIP over iptocc."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from pipeline.geo import GEOIP_SOURCE, GeoResolver


@pytest.fixture(scope="module")
def geo() -> GeoResolver:
    return GeoResolver()


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        ("114.114.114.114", "CN"),
        ("2001:4860:4860::8888", "US"),
        ("240e::1", "CN"),
        ("::ffff:8.8.8.8", "US"),
        (IPv4Address("8.8.8.8"), "US"),
        (IPv6Address("2001:4860:4860::8888"), "US"),
    ],
)
def test_public_addresses(
    geo: GeoResolver, ip: str | IPv4Address | IPv6Address, country: str
) -> None:
    assert geo.country(ip) == country


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "127.0.0.1",
        "100.64.0.1",
        "169.254.1.1",
        "192.0.2.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_global_addresses_have_no_country(geo: GeoResolver, ip: str) -> None:
    assert geo.country(ip) is None


def test_malformed_address_rejected(geo: GeoResolver) -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        geo.country("8.8.8")
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        geo.countries(["8.8.8.8", "example.com"])


def test_batch_equals_single_lookups(geo: GeoResolver) -> None:
    ips = [
        "8.8.8.8",
        "10.0.0.1",
        "114.114.114.114",
        "2001:4860:4860::8888",
        "::1",
        "1.1.1.1",
        "223.5.5.5",
        "2a00:1450:4001::1",
        "192.168.0.1",
        "185.199.108.153",
    ]
    assert geo.countries(ips) == [geo.country(ip) for ip in ips]


def test_empty_batch(geo: GeoResolver) -> None:
    assert geo.countries([]) == []
    assert geo.countries(["10.0.0.1"]) == [None]


def test_source_names_the_database(geo: GeoResolver) -> None:
    assert geo.source == GEOIP_SOURCE
    assert GEOIP_SOURCE.startswith("iptocc ")
    assert "RIR" in GEOIP_SOURCE
