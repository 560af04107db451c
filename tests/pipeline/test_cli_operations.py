"""Responders' and regulators' commands: `xbmon alerts ...` and `xbmon spotcheck ...`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from pipeline.alert_store import alert_row
from pipeline.alerts import raise_alert
from pipeline.cli import app
from pipeline.settings import Settings
from pipeline.storage import open_store
from schemas.models import Finding

runner = CliRunner()
E1 = "91110000600037341L"
NOW = datetime(2025, 3, 3, 2, tzinfo=UTC)


def seed_alert(data_dir: Path) -> str:
    finding = Finding.model_validate(
        {
            "finding_id": "f1",
            "rule_id": "XB-FILING-REVOKED",
            "severity": "critical",
            "enterprise_id": E1,
            "ts": NOW.isoformat(),
            "explanation": "x",
            "explanation_zh": "x",
            "evidence_hash": "0" * 64,
        }
    )
    from zoneinfo import ZoneInfo

    alert = raise_alert(None, finding, "D", "critical", "page", NOW, ZoneInfo("Asia/Shanghai"))
    with open_store(Settings(data_dir=data_dir / "embedded")) as store:
        store.ensure_schema()
        store.insert("alerts", [alert_row(alert)])
    return alert.alert_id


def test_alert_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    alert_id = seed_alert(tmp_path)
    listed = runner.invoke(app, ["alerts", "list", "--json", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["alert_id"], row["status"], row["severity"], row["route"]) == (
        alert_id,
        "open",
        "critical",
        "page",
    )
    ack = runner.invoke(
        app, ["alerts", "ack", alert_id, "--by", "oncall-1", "--data-dir", str(tmp_path)]
    )
    assert ack.exit_code == 0, ack.output
    again = runner.invoke(
        app, ["alerts", "ack", alert_id, "--by", "oncall-2", "--data-dir", str(tmp_path)]
    )
    assert again.exit_code == 1 and "cannot become acknowledged" in again.output
    done = runner.invoke(
        app,
        [
            "alerts",
            "resolve",
            alert_id,
            "--by",
            "oncall-1",
            "--note",
            "filing reinstated",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert done.exit_code == 0
    resolved = runner.invoke(
        app, ["alerts", "list", "--status", "resolved", "--json", "--data-dir", str(tmp_path)]
    )
    row = json.loads(resolved.stdout)
    assert (row["status"], row["actor"], row["note"]) == (
        "resolved",
        "oncall-1",
        "filing reinstated",
    )
    missing = runner.invoke(
        app, ["alerts", "ack", "nope", "--by", "x", "--data-dir", str(tmp_path)]
    )
    assert missing.exit_code == 1 and "no alert nope" in missing.output


def test_spotcheck_plan_is_reproducible_and_verifiable(tmp_path: Path) -> None:
    register = tmp_path / "register.csv"
    register.write_text(
        "enterprise_id,tier\n" + "".join(f"E{i:03d},{'ABCD'[i % 4]}\n" for i in range(40))
    )
    inspectors = tmp_path / "inspectors.txt"
    inspectors.write_text("".join(f"insp-{i}\n" for i in range(6)))
    seed = "a3" * 16
    args = [
        "spotcheck",
        "plan",
        "--period",
        "2026-01",
        "--seed",
        seed,
        "--register",
        str(register),
        "--inspectors",
        str(inspectors),
        "--data-dir",
        str(tmp_path),
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    plan = json.loads(first.stdout)
    assert plan["period"] == "2026-01" and plan["selections"]
    published = tmp_path / "spotcheck" / "plan-2026-01.json"
    assert published.exists()
    ok = runner.invoke(
        app,
        [
            "spotcheck",
            "verify",
            str(published),
            "--register",
            str(register),
            "--inspectors",
            str(inspectors),
            "--seed",
            seed,
        ],
    )
    assert ok.exit_code == 0, ok.output
    tampered = json.loads(published.read_text())
    tampered["selections"][0]["inspectors"].reverse()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(tampered))
    bad = runner.invoke(
        app,
        [
            "spotcheck",
            "verify",
            str(forged),
            "--register",
            str(register),
            "--inspectors",
            str(inspectors),
        ],
    )
    assert bad.exit_code == 1


def seed_scores(data_dir: Path) -> None:
    from pipeline.evidence_rows import score_row
    from pipeline.scoring.config import default_scoring_config
    from pipeline.scoring.model import ScoringInputs, score
    from pipeline.supervision import ScoreEvent

    rows = []
    for index, risk_exports in enumerate([0, 20, 200]):
        inputs = ScoringInputs(important_transfers=risk_exports, is_ciio=index == 2)
        result = score(inputs, NOW, default_scoring_config(), _FlatRisk())
        event = ScoreEvent(f"E{index}", result, None, "batch", NOW)
        rows.append(score_row(event))
    with open_store(Settings(data_dir=data_dir / "embedded")) as store:
        store.ensure_schema()
        store.insert("scores", rows)


class _FlatRisk:
    def score(self, country: str) -> int:
        return 50


def test_enterprise_show_explains_the_tier(tmp_path: Path) -> None:
    seed_scores(tmp_path)
    shown = runner.invoke(app, ["enterprise", "show", "E2", "--json", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    row = json.loads(shown.stdout)
    credit = sum(c["points"] for c in row["contributions"] if c["score"] == "credit")
    risk = sum(c["points"] for c in row["contributions"] if c["score"] == "risk")
    assert round(credit, 2) == row["credit"] and round(risk, 2) == row["risk"]
    assert all(c["reason"] for c in row["contributions"])
    table = runner.invoke(app, ["enterprise", "show", "E2", "--data-dir", str(tmp_path)])
    assert table.exit_code == 0 and "important_data" in table.output
    missing = runner.invoke(app, ["enterprise", "show", "E9", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1


def test_spotcheck_register_defaults_to_the_latest_tiers_in_the_store(tmp_path: Path) -> None:
    seed_scores(tmp_path)
    inspectors = tmp_path / "inspectors.txt"
    inspectors.write_text("a\nb\nc\n")
    drawn = runner.invoke(
        app,
        [
            "spotcheck",
            "plan",
            "--period",
            "2026-01",
            "--seed",
            "5e" * 16,
            "--inspectors",
            str(inspectors),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    plan = json.loads(drawn.stdout)
    registered = {tier: c["registered"] for tier, c in plan["counts"].items()}
    assert sum(registered.values()) == 3
