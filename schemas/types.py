"""Constrained field types shared by every contract (spec/contracts.md).

Every type is strict: JSON numbers are not coerced from strings, booleans are not coerced
from 0/1, and datetimes must carry an offset. Values arrive from JSON, so datetimes, IPs and
networks are accepted as their string forms and also as already-parsed objects.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

_USCC_SHAPE = re.compile(r"^[0-9A-Z]{18}$")
_CATEGORY_SHAPE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)

#: The one country that is never a destination: transfers out of it are what is monitored.
HOME_COUNTRY = "CN"


@lru_cache(maxsize=65536)  # a few thousand exporters send millions of records
def check_uscc(value: str) -> str:
    if not _USCC_SHAPE.fullmatch(value):
        raise ValueError("USCC must be 18 upper-case letters or digits with no separators")
    try:
        uscc.validate(value)
    except InvalidChecksum as exc:
        raise ValueError("USCC check character does not match (GB 32100)") from exc
    except ValidationError as exc:
        raise ValueError(
            "USCC must start with 8 digits and use only the GB 32100 alphabet"
        ) from exc
    return value


def check_country(value: str) -> str:
    if value not in _COUNTRIES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


def check_destination(value: str) -> str:
    if value == HOME_COUNTRY:
        raise ValueError("CN is never a destination of a cross-border transfer")
    return value


@lru_cache(maxsize=65536)  # a few hundred categories recur in every batch
def check_category(value: str) -> str:
    if not _CATEGORY_SHAPE.fullmatch(value):
        raise ValueError("category must be dotted segments of letters, digits, '_' or '-'")
    return value


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("datetime must be RFC 3339, e.g. 2024-05-01T08:00:00+08:00") from exc
    if not isinstance(value, datetime):
        raise ValueError("datetime must be an RFC 3339 string")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a timezone offset (e.g. Z or +08:00)")
    return value if value.tzinfo is UTC else value.astimezone(UTC)  # "…Z" parses as UTC


@lru_cache(maxsize=65536)  # window starts and event times are formatted again and again
def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, the one textual form xbmon emits."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    if not isinstance(value, str):
        raise ValueError("IP address must be a string")
    return _ip_from_text(value)


@lru_cache(maxsize=262144)  # egress addresses repeat: parsing dominated flow decoding
def _ip_from_text(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from exc


def _parse_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise ValueError("CIDR must be a string")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR network (host bits must be zero)") from exc


Uscc = Annotated[
    str,
    Field(
        strict=True,
        min_length=18,
        max_length=18,
        examples=["91110000600037341L"],
        json_schema_extra={
            "pattern": "^[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}$",
            "description": "Unified Social Credit Code (GB 32100), check character verified",
        },
    ),
    AfterValidator(check_uscc),
]
Country = Annotated[
    str,
    Field(
        strict=True,
        min_length=2,
        max_length=2,
        json_schema_extra={"pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
    ),
    AfterValidator(check_country),
]
DestinationCountry = Annotated[
    Country,
    AfterValidator(check_destination),
    Field(json_schema_extra={"not": {"const": HOME_COUNTRY}}),
]
Category = Annotated[
    str,
    Field(
        strict=True,
        min_length=1,
        max_length=200,
        json_schema_extra={
            "pattern": _CATEGORY_SHAPE.pattern,
            "description": "dotted data category, e.g. pi.sensitive.health",
        },
    ),
    AfterValidator(check_category),
]
Text = Annotated[str, Field(strict=True, max_length=1000)]
Id = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
Count = Annotated[int, Field(strict=True, ge=0)]
UtcDatetime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with an offset; stored as UTC",
        }
    ),
]
IpAddress = Annotated[
    ipaddress.IPv4Address | ipaddress.IPv6Address,
    PlainValidator(parse_ip),  # ours is complete: pydantic re-validating parsed it twice
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]
Cidr = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network,
    PlainValidator(_parse_network),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "description": "CIDR network, e.g. 203.0.113.0/24"}),
]

FilingKind = Literal["security_assessment", "standard_contract", "certification"]
FilingStatus = Literal["active", "revoked", "pending"]
RequiredProcedure = Literal["security_assessment", "contract_or_certification"]
Purpose = Literal[
    "contract_performance",
    "hr_management",
    "emergency",
    "business",
    "research",
    "marketing",
    "other",
]
LegalBasis = Literal["security_assessment", "standard_contract", "certification", "exempt"]
Severity = Literal["info", "low", "medium", "high", "critical"]
RequiredPath = Literal[
    "exempt_non_personal",
    "exempt_purpose",
    "exempt_negative_list",
    "exempt_small_volume",
    "security_assessment",
    "contract_or_certification",
]
RuleId = Literal[
    "XB-PATH-MISSING",
    "XB-PATH-INSUFFICIENT",
    "XB-NEGLIST-HIT",
    "XB-FILING-EXPIRED",
    "XB-FILING-REVOKED",
    "XB-SCOPE-RECIPIENT",
    "XB-SCOPE-COUNTRY",
    "XB-SCOPE-CATEGORY",
    "XB-SCOPE-PURPOSE",
    "XB-VOLUME-EXCEEDED",
    "XB-THRESHOLD-CROSSED",
    "XB-DECLARED-BASIS-INVALID",
    "XB-UNDECLARED-EGRESS",
    "XB-DLP-MISMATCH",
    "XB-LATE-DECLARATION",
    "XB-FILING-EXPIRING",
]
