"""Validation errors as one line a person can act on: which field, what is wrong."""

from __future__ import annotations

from pydantic import ValidationError


def error_items(error: ValidationError) -> list[tuple[str, str]]:
    """(dotted field path, message) for each failure; `record` when no field is named."""
    return [
        (".".join(str(p) for p in item["loc"]) or "record", item["msg"])
        for item in error.errors(include_url=False)
    ]


def describe_error(error: ValidationError) -> str:
    """`field.path: message` for each failure, joined by `; `."""
    return "; ".join(f"{location}: {message}" for location, message in error_items(error))
