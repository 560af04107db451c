"""Validation errors as one line a person can act on: which field, what is wrong."""

from __future__ import annotations

from pydantic import ValidationError


def describe_error(error: ValidationError) -> str:
    """`field.path: message` for each failure, joined by `; `."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)
