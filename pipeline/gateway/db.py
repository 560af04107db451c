"""The gateway's small local databases (SQLite): keys, accepted transfer ids, nonces, status.

SQL lives in `.sql` files beside this module, as named statements (`-- name: x`), and is
always executed with parameters. Each file opens in WAL mode so the CLI (`xbmon keys`) and a
running gateway can use the same file at once.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\S+)\s*$", re.MULTILINE)

GATEWAY_DIR = "gateway"


def gateway_dir(data_dir: Path) -> Path:
    """Where the gateway keeps its files: the same for `xbmon gateway`, `up` and `keys`."""
    return data_dir / GATEWAY_DIR


@cache
def statements(file: str) -> dict[str, str]:
    """Named statements of one `.sql` file; `schema` holds the DDL."""
    text = resources.files(__package__).joinpath(file).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def connect(path: Path, file: str) -> sqlite3.Connection:
    """Open (and create if needed) a database whose schema is the `schema` statement of `file`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(statements(file)["schema"])
    return connection


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One explicit transaction (connections run in autocommit mode otherwise)."""
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
