"""Model instances from values already known to be valid, without pydantic's per-field work."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def constructed(model: type[M], values: dict[str, Any]) -> M:
    """The instance `model.model_validate(values)` would build, for values that passed every
    check (decoded and checked on the fast path, or made by the engine itself).

    What `model_construct` does for a model with no aliases, extras, private attributes or
    post-init hook, given every field in the model's order: pydantic's version costs more
    than validating (6 against 4 µs a transfer log), this 1 µs. The callers' tests check the
    result equal to the validated model, field for field.
    """
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance
