"""`xbmon up --gateway-port P`: the README's two enterprise commands against the embedded stack."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.broker import free_port

pytestmark = pytest.mark.slow

ENTERPRISE = "91110000600037341L"


def xbmon(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def test_up_serves_the_gateway_and_a_pushed_file_reaches_the_status(
    tmp_path: Path, interruptible: Callable[[], None]
) -> None:
    port = free_port()
    data = tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs.jsonl"
    logs.write_text(
        "\n".join(
            json.dumps(
                {
                    "transfer_id": f"gw-{i}",
                    "enterprise_id": ENTERPRISE,
                    "ts": "2026-03-02T08:00:00+08:00",
                    "recipient": "Globex Inc.",
                    "country": "US",
                    "categories": ["pi.general"],
                    "subjects": 10,
                    "sensitive_subjects": 0,
                    "records": 10,
                    "bytes": 4000,
                    "purpose": "business",
                    "legal_basis": "exempt",
                }
            )
            for i in range(5)
        )
        + "\n"
    )
    err_file = (tmp_path / "up.err").open("w")
    up = subprocess.Popen(
        xbmon(
            "up",
            "--rate",
            "100",
            "--enterprises",
            "5",
            "--days",
            "2",
            "--data-dir",
            str(data),
            "--gateway-port",
            str(port),
        ),
        stdout=subprocess.PIPE,
        stderr=err_file,  # a file: the live view never fills a pipe
        text=True,
        preexec_fn=interruptible,
    )
    try:
        deadline = time.monotonic() + 60
        while get(f"{base}/healthz")[0] != 200:
            assert up.poll() is None, (tmp_path / "up.err").read_text()
            assert time.monotonic() < deadline, "the gateway never answered"
            time.sleep(0.3)
        # The README's two commands.
        created = subprocess.run(
            xbmon("keys", "create", ENTERPRISE, "--data-dir", str(data)),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        key = created.stdout.strip().splitlines()[-1]
        pushed = subprocess.run(
            xbmon("push", str(logs), "--url", base, "--key", key),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert pushed.returncode == 0, pushed.stderr
        assert json.loads(pushed.stdout.strip().splitlines()[-1])["accepted"] == 5
        status: dict[str, object] = {}
        while time.monotonic() < deadline + 30:
            code, body = get(f"{base}/v1/status", key)
            assert code == 200
            status = json.loads(body)
            if status["transfers"] == 5 and status["findings"]:
                break
            time.sleep(0.5)
        assert status["enterprise_id"] == ENTERPRISE and status["transfers"] == 5
        # Received a year or more after `ts`: every log is a late declaration.
        assert status["findings_by_rule"] == {"XB-LATE-DECLARATION": 5}
        up.send_signal(signal.SIGINT)  # Ctrl-C: `up` stops everything, the gateway included
        out, _ = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        err_file.close()
    assert up.returncode == 0, (tmp_path / "up.err").read_text()
    assert json.loads(out.strip().splitlines()[-1])["findings"] > 0
    with socket.socket() as probe:  # the gateway stopped with `up`
        assert probe.connect_ex(("127.0.0.1", port)) != 0
