"""Typed errors of the evidence store: callers never see a client library's exceptions."""

from __future__ import annotations


class StoreError(Exception):
    """The store refused or failed an operation (bad input, SQL error, schema problem).

    `retryable` says whether trying the same operation again may succeed (the store was
    unreachable or busy); writes are idempotent, so retrying an insert with the same rows and
    dedup token is always safe.
    """

    retryable: bool = False


class StoreUnavailableError(StoreError):
    """The store cannot be reached or opened right now (server down, chDB path locked)."""

    retryable = True


class MigrationError(StoreError):
    """The DDL files and the database's migration ledger disagree."""
