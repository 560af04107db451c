"""The committed dashboards: current with the generator, valid for the SDK's Grafana types,
wired to the provisioned data sources, and provisioned by docker-compose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import __main__ as cli
from dashboards.build import DASHBOARDS, JSON_DIR, rendered, stale, write
from dashboards.common import to_json

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
BOARDS = {p.stem: json.loads(p.read_text()) for p in sorted(JSON_DIR.glob("*.json"))}


def lost(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Paths of values in `ours` that `theirs` does not carry identically."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [path]
        return [p for k, v in ours.items() for p in lost(v, theirs.get(k, lost), f"{path}.{k}")]
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [path]
        return [
            p
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for p in lost(a, b, f"{path}[{i}]")
        ]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


def test_committed_json_is_what_the_generator_makes() -> None:
    assert set(BOARDS) == set(DASHBOARDS)
    assert stale() == [], "run `python -m dashboards` and commit dashboards/json/"


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path)
    assert stale(tmp_path) == []
    target = tmp_path / "xbmon-oncall.json"
    target.write_text(target.read_text().replace("Consumer lag", "Consumer lag (edited)"))
    assert stale(tmp_path) == ["xbmon-oncall.json"]
    assert rendered()["xbmon-oncall.json"] != target.read_text()
    assert cli.main(["--check"]) == 0  # the committed tree is current


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_dashboard_decodes_into_the_sdk_types_without_loss(uid: str) -> None:
    register_default_plugins()
    board = BOARDS[uid]
    decoded = Dashboard.from_json(board)
    assert decoded.uid == uid and decoded.title and decoded.panels
    assert lost(board, to_json(decoded)) == []


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_panels_are_placed_identified_and_use_provisioned_sources(uid: str) -> None:
    sources = {
        s["uid"]: s["type"]
        for path in (PROVISIONING / "datasources").glob("*.yml")
        for s in yaml.safe_load(path.read_text())["datasources"]
    }
    panels = BOARDS[uid]["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["title"] and panel["description"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        assert panel["targets"]
        for target in [panel, *panel["targets"]]:
            ref = target["datasource"]
            assert sources.get(ref["uid"]) == ref["type"], f"{panel['title']}: {ref}"


def test_grafana_provisions_the_generated_dashboards() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "xbmon.yml").read_text())
    [entry] = provider["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = {
        volume.split(":")[0]: volume.split(":")[1]
        for volume in compose["services"]["grafana"]["volumes"]
    }
    assert mounts["./dashboards/json"] == entry["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert entry["type"] == "file" and entry["allowUiUpdates"] is False


def test_enterprise_links_open_the_drill_down_on_that_enterprise() -> None:
    drill_down = BOARDS["xbmon-enterprise"]
    variables = {v["name"] for v in drill_down["templating"]["list"]}
    urls = [
        link["url"]
        for panel in BOARDS["xbmon-regulator"]["panels"]
        for override in panel["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert len(urls) == 3  # top risk, filings expiring, undeclared egress
    for url in urls:
        path, query = url.split("?", 1)
        assert path == f"/d/{drill_down['uid']}"
        assert query.split("=", 1)[0].removeprefix("var-") in variables


def test_the_database_constant_is_the_one_compose_writes_to() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    written = {
        str(service["environment"]["XBMON_CLICKHOUSE__DATABASE"])
        for service in compose["services"].values()
        if isinstance(service.get("environment"), dict)
        and "XBMON_CLICKHOUSE__DATABASE" in service["environment"]
    }
    [source] = yaml.safe_load((PROVISIONING / "datasources" / "clickhouse.yml").read_text())[
        "datasources"
    ]
    for uid in ("xbmon-regulator", "xbmon-enterprise"):
        [constant] = [v for v in BOARDS[uid]["templating"]["list"] if v["name"] == "database"]
        assert written == {constant["query"]} == {source["jsonData"]["defaultDatabase"]}
