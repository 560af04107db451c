"""SQL text for the evidence store: named `.sql` files, statements, identifiers, parameters.

Values never enter SQL text. Queries carry ClickHouse's server-side placeholders
`{name:Type}` and the values travel beside the query: chDB takes them as `params=` (the same
escaped-text form as the HTTP interface's `param_name`), clickhouse-connect sends them as
`param_name` when a query has `{name:Type}` placeholders. `bind` checks that every value has
a placeholder, so clickhouse-connect never falls back to formatting values client-side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from pipeline.storage.errors import StoreError

#: ClickHouse's server-side query parameter: `{name:Type}`.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_QUERY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: The parameter every store binds to its own database unless the caller gives it.
DATABASE_PARAMETER = "database"


def check_identifier(name: str, what: str = "identifier") -> str:
    """A plain ClickHouse identifier (database or table name), never quoted, never escaped."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise StoreError(f"{what} {name!r} must match {_IDENTIFIER.pattern}")
    return name


@cache
def load_query(name: str) -> str:
    """The text of `pipeline/storage/queries/<name>.sql`."""
    if not _QUERY_NAME.fullmatch(name):
        raise StoreError(f"query name {name!r} must match {_QUERY_NAME.pattern}")
    source = resources.files("pipeline.storage.queries").joinpath(f"{name}.sql")
    if not source.is_file():
        raise StoreError(f"no query named {name!r} in pipeline/storage/queries")
    statements = split_statements(source.read_text(encoding="utf-8"))
    if len(statements) != 1:
        raise StoreError(f"query {name!r} must hold exactly one statement")
    return statements[0]


def split_statements(text: str) -> list[str]:
    """Statements of a SQL script without comments, split at `;` outside quotes."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            end = _end_of_quoted(text, i)
            current.append(text[i:end])
            i = end
        elif text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                raise StoreError("unterminated /* comment in SQL")
            current.append(" ")
            i = close + 2
        elif c == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def _end_of_quoted(text: str, start: int) -> int:
    quote = text[start]
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            if text.startswith(quote * 2, i):  # doubled quote inside the literal
                i += 2
                continue
            return i + 1
        i += 1
    raise StoreError(f"unterminated {quote} quote in SQL")


def placeholders(sql: str) -> dict[str, str]:
    """Parameter name -> declared type of every `{name:Type}` in a statement."""
    found: dict[str, str] = {}
    for name, type_ in PLACEHOLDER.findall(sql):
        declared = found.setdefault(name, type_.strip())
        if declared != type_.strip():
            raise StoreError(f"parameter {name!r} is declared as {declared} and {type_.strip()}")
    return found


def bind(sql: str, parameters: Mapping[str, Any] | None, database: str) -> dict[str, Any]:
    """The parameters of one statement, checked against its placeholders and normalised.

    `database` is bound to the store's database when the statement uses it and the caller did
    not give it. A value without a placeholder, or a placeholder without a value, is an error.
    """
    wanted = placeholders(sql)
    bound = dict(parameters or {})
    if DATABASE_PARAMETER in wanted and DATABASE_PARAMETER not in bound:
        bound[DATABASE_PARAMETER] = database
    unused = sorted(bound.keys() - wanted.keys())
    if unused:
        raise StoreError(f"parameters without a {{name:Type}} placeholder: {', '.join(unused)}")
    missing = sorted(wanted.keys() - bound.keys())
    if missing:
        raise StoreError(f"placeholders without a value: {', '.join(missing)}")
    return {name: normalise(value) for name, value in bound.items()}


@lru_cache(maxsize=65536)  # a batch's rows share their stamps and window bounds
def format_datetime_utc(value: datetime) -> str:
    """The text ClickHouse reads into DateTime64 without best-effort parsing: UTC, microseconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"naive datetime {value.isoformat()}: xbmon stores aware datetimes only")
    # isoformat is several times faster than strftime (one call per stored datetime).
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def format_instant_utc(value: datetime) -> str:
    """`format_datetime_utc` of a value that seldom recurs (a record's own timestamp), uncached:
    a cache miss cost twice the formatting (2 against 1 µs)."""
    if value.tzinfo is UTC:  # what `parse_datetime` gives
        return value.isoformat(" ", "microseconds")[:26]
    return format_datetime_utc(value)


def normalise(value: Any) -> Any:
    """Plain values both backends encode the same way: datetimes as UTC text, bools as 0/1."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return format_datetime_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [normalise(item) for item in items]
    raise StoreError(f"unsupported query parameter type {type(value).__name__}")


_ESCAPES = {
    "\\": "\\\\",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
}
_QUOTED_ESCAPES = {**_ESCAPES, "'": "\\'"}


def param_text(value: Any) -> str:
    """A normalised value in ClickHouse's escaped text form for query parameters.

    Top-level strings are written unquoted with backslash escapes (as in TSV); strings inside
    arrays are single-quoted literals; NULL at top level is `\\N`.
    """
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return "".join(_ESCAPES.get(c, c) for c in value)
    return _literal(value)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + "".join(_QUOTED_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, list):
        return "[" + ",".join(_literal(item) for item in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    raise StoreError(f"unsupported query parameter type {type(value).__name__}")
