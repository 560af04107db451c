"""Render every dashboard to `dashboards/json/<uid>.json`, deterministically.

Panel ids are assigned in order (the SDK leaves them unset) so links and the committed files
are stable; keys are sorted and the JSON indented, so a diff shows what changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import enterprise, oncall, regulator
from dashboards.common import to_json

JSON_DIR: Final = Path(__file__).resolve().parent / "json"
DASHBOARDS: Final[dict[str, Callable[[], Dashboard]]] = {
    regulator.UID: regulator.dashboard,
    enterprise.UID: enterprise.dashboard,
    oncall.UID: oncall.dashboard,
}


def render(build: Callable[[], Dashboard]) -> dict[str, Any]:
    data = to_json(build())
    for index, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = index
    for variable in data.get("templating", {}).get("list", []):
        variable.pop("id", None)  # the SDK's placeholder uuid; Grafana keys variables by name
    return data


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{uid}.json": dumps(render(build)) for uid, build in DASHBOARDS.items()}


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path = JSON_DIR) -> list[str]:
    """Files in `directory` that differ from what the generator makes (or are missing/extra)."""
    expected = rendered()
    present = {p.name for p in directory.glob("*.json")}
    out = sorted(
        n
        for n, t in expected.items()
        if not (directory / n).is_file() or (directory / n).read_text(encoding="utf-8") != t
    )
    return out + sorted(present - set(expected))
