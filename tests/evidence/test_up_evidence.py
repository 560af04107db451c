"""The embedded default end to end: `xbmon up`, then `xbmon evidence verify` and `audit`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.evidence_log.log_store import fetch_leaves
from pipeline.settings import Settings
from pipeline.storage import open_store

pytestmark = pytest.mark.slow

XBMON = shutil.which("xbmon") or "xbmon"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [XBMON, *args], capture_output=True, text=True, timeout=180, check=check, env=os.environ
    )


def test_up_then_every_finding_is_sealed_and_verifies(tmp_path: Path) -> None:
    up = run(
        "up",
        "--duration",
        "20",
        "--rate",
        "800",
        "--enterprises",
        "30",
        "--days",
        "3",
        "--data-dir",
        str(tmp_path),
    )
    summary = json.loads(up.stdout.strip().splitlines()[-1])
    assert summary["stored_findings"] > 0

    # The store writer generated the key on first run, owner-only, with its public half.
    key = tmp_path / "embedded" / "evidence" / "signing_key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (key.parent / "signing_key.pub.pem").exists()

    audit = run("evidence", "audit", "--json", "--data-dir", str(tmp_path), check=False)
    report = json.loads(audit.stdout)
    assert audit.returncode == 0, report["problems"]
    # Sealed at exit: every stored finding is a leaf under the last signed tree head.
    assert report["leaves"] == report["findings"] == summary["stored_findings"]
    assert report["tree_size"] == report["leaves"] and report["tree_heads"] >= 1

    with open_store(Settings(data_dir=tmp_path / "embedded")) as store:  # chDB: stack is down
        leaves = fetch_leaves(store)
    for leaf in (leaves[0], leaves[len(leaves) // 2], leaves[-1]):
        verified = run("evidence", "verify", leaf.finding_id, "--data-dir", str(tmp_path))
        assert "verified" in verified.stderr
    print(f"sealed {report['leaves']} findings in {report['tree_heads']} heads", file=sys.stderr)
