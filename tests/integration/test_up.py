"""`xbmon up`, the README's run command: starts, shows findings, stops, stores them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

XBMON = shutil.which("xbmon") or "xbmon"


def test_up_runs_for_a_duration_and_stores_what_it_found(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            XBMON,
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
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["transfers"] > 1000 and summary["flows"] > 1000
    assert summary["findings"] > 0
    # Every injected broken record was dead-lettered, and every finding reached the store.
    assert summary["deadletter"] == summary["invalid_injected"]
    assert summary["stored_findings"] == summary["findings"]
    assert "Findings by rule" in result.stderr  # the live view was shown

    # Supervision reached the store: alerts for responders, scores behind every tier.
    listed = subprocess.run(
        [XBMON, "alerts", "list", "--json", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    alerts = [json.loads(line) for line in listed.stdout.splitlines()]
    assert alerts and {a["route"] for a in alerts} <= {"page", "ticket", "none"}
    shown = subprocess.run(
        [
            XBMON,
            "enterprise",
            "show",
            alerts[0]["enterprise_id"],
            "--json",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    score = json.loads(shown.stdout)
    assert score["tier"] in "ABCD" and score["contributions"]


def test_ctrl_c_stops_everything_cleanly(tmp_path: Path, interruptible: Callable[[], None]) -> None:
    process = subprocess.Popen(
        [
            XBMON,
            "up",
            "--rate",
            "300",
            "--enterprises",
            "20",
            "--days",
            "2",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    try:
        time.sleep(15)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["transfers"] > 0
    # No broker, worker or store writer outlives the supervisor.
    assert processes_using(tmp_path) == []


def processes_using(directory: Path) -> list[int]:
    """Pids whose environment names `directory` or that hold a file open under it."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            uses = str(directory).encode() in (proc / "environ").read_bytes() or any(
                str(fd.readlink()).startswith(str(directory)) for fd in (proc / "fd").iterdir()
            )
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
        if uses:
            found.append(int(proc.name))
    return found
