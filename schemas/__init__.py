"""xbmon data contracts: pydantic models, JSON Schema export, ClickHouse DDL."""

from pydantic import BaseModel

from schemas.models import EgressFlow, Enterprise, Filing, Finding, NegativeListEntry, TransferLog

CONTRACTS: dict[str, type[BaseModel]] = {
    "enterprise": Enterprise,
    "filing": Filing,
    "negative_list_entry": NegativeListEntry,
    "transfer_log": TransferLog,
    "egress_flow": EgressFlow,
    "finding": Finding,
}

__all__ = [
    "CONTRACTS",
    "EgressFlow",
    "Enterprise",
    "Filing",
    "Finding",
    "NegativeListEntry",
    "TransferLog",
]
