"""Offline GeoIP: the country of a destination address, with no download at run time.

Backed by `iptocc` (MIT/Apache-2.0 code; its table is derived from the regional internet
registries' delegation files and embedded in the wheel). Registry data says where an address
block is *registered*, which for cloud and CDN ranges can differ from where the host is, so
callers record `GeoResolver.source` beside every country decision taken from it.

Addresses that are not globally routable (private, loopback, link-local, shared, documentation,
multicast, reserved) resolve to None, as do addresses the table does not know and registry codes
that are not ISO 3166-1 alpha-2 countries (e.g. `EU`, `AP`). `CN` is returned as is: deciding
that a flow is domestic is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from ipaddress import IPv4Address, IPv6Address, ip_address

import iptocc
import pycountry

Address = str | IPv4Address | IPv6Address

_ISO_COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)


def _iptocc_version() -> str:
    try:
        return version("iptocc")
    except PackageNotFoundError:  # pragma: no cover - only when run from a source checkout
        return "unknown"


#: Names the database behind every country this module returns.
GEOIP_SOURCE = f"iptocc {_iptocc_version()}, RIR delegation data"


def _parse(ip: Address) -> IPv4Address | IPv6Address:
    if isinstance(ip, IPv4Address | IPv6Address):
        address = ip
    else:
        try:
            address = ip_address(ip)
        except ValueError as exc:
            raise ValueError(f"{ip!r} is not an IPv4 or IPv6 address") from exc
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _iso(code: str | None) -> str | None:
    return code if code in _ISO_COUNTRIES else None


class GeoResolver:
    """Country of an IP address from the embedded registry table (stateless, thread-safe)."""

    source: str = GEOIP_SOURCE

    def country(self, ip: Address) -> str | None:
        """ISO alpha-2 country of `ip`, or None; raises ValueError for a malformed address."""
        address = _parse(ip)
        if not address.is_global:
            return None
        return _iso(iptocc.country_code(str(address)))

    def countries(self, ips: Sequence[Address]) -> list[str | None]:
        """`country` of each address, in order, with one lookup call for the batch."""
        addresses = [_parse(ip) for ip in ips]
        public = [str(address) for address in addresses if address.is_global]
        found = iter(iptocc.country_code(public) if public else [])
        return [_iso(next(found)) if address.is_global else None for address in addresses]


__all__ = ["GEOIP_SOURCE", "Address", "GeoResolver"]
