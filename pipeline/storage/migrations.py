"""The numbered DDL files of `schemas/clickhouse/` and how they render.

A migration is `NNN_snake_case.sql`, numbered from 000 without gaps. Its identity is its
SHA-256 over the file's bytes as written (before rendering): an applied file that changed is
refused (`MigrationError`), because the ledger would otherwise claim a schema the database
does not have. The one text substitution is `{{retention_days}}`, an int from settings;
everything else that varies (the database) is a `{name:Type}` query parameter.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pipeline.storage.errors import MigrationError
from pipeline.storage.sql import split_statements

RETENTION_PLACEHOLDER = "{{retention_days}}"
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_ANY_TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name, e.g. 003_findings.sql
    sha256: str
    text: str

    @property
    def uses_retention(self) -> bool:
        return RETENTION_PLACEHOLDER in self.text

    def statements(self, retention_days: int) -> list[str]:
        return split_statements(render(self.text, retention_days))


def render(text: str, retention_days: int) -> str:
    """Substitute the retention; refuse anything but a positive int and any other template."""
    if type(retention_days) is not int or retention_days < 1:
        raise MigrationError(f"retention_days must be a positive int, got {retention_days!r}")
    rendered = text.replace(RETENTION_PLACEHOLDER, str(retention_days))
    leftover = _ANY_TEMPLATE.search(rendered)
    if leftover:
        raise MigrationError(f"unknown template {leftover.group(0)} in DDL")
    return rendered


def default_source() -> Traversable:
    return resources.files("schemas.clickhouse")


def discover(source: Traversable | Path | None = None) -> list[Migration]:
    """Every migration of `source` (default: the packaged `schemas/clickhouse`), in order."""
    root = default_source() if source is None else source
    found: dict[int, Migration] = {}
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if not match:
            raise MigrationError(f"{entry.name}: migration files are named NNN_snake_case.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{entry.name} and {found[version].name} share number {version}")
        data = entry.read_bytes()
        found[version] = Migration(
            version=version,
            name=entry.name,
            sha256=hashlib.sha256(data).hexdigest(),
            text=data.decode("utf-8"),
        )
    ordered = [found[v] for v in sorted(found)]
    if [m.version for m in ordered] != list(range(len(ordered))):
        raise MigrationError(
            "migrations must be numbered 000, 001, ... without gaps; found "
            + ", ".join(m.name for m in ordered)
        )
    if not ordered:
        raise MigrationError(f"no migrations in {root}")
    return ordered
