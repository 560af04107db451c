"""The panels' SQL, one `.sql` file per panel under `dashboards/sql/<dashboard>/`.

The dashboard generator puts each file's text in its panel as `rawSql`, and `xbmon report`
runs the same text (through `dashboards.macros`), so the report and Grafana cannot drift.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. `sql("regulator/findings_by_rule")`."""
    path = resources.files("dashboards").joinpath("sql").joinpath(f"{name}.sql")
    if not path.is_file():
        raise KeyError(f"no panel query {name!r} (dashboards/sql/{name}.sql)")
    return path.read_text(encoding="utf-8")
