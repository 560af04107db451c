"""The `xbmon push` client against the real gateway app (and a real broker)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from typer.testing import CliRunner

from pipeline.broker import LocalBroker, free_port
from pipeline.cli import app as cli
from pipeline.gateway.app import create_app
from pipeline.push import Pusher, PushError, PushOptions, checkpoint_path
from pipeline.settings import GatewaySettings, Settings

A = "91110000600037341L"


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    return path


def pusher(client: Any, token: str, sleeps: list[float] | None = None, **options: Any) -> Pusher:
    return Pusher(
        PushOptions(url="http://gateway", key=token, **options),
        client=client,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def test_refused_lines_are_reported_with_line_numbers_and_the_rest_accepted(
    gateway: Any, new_key: Any, make_log: Any, read_logs: Any, tmp_path: Path
) -> None:
    token = new_key(A)
    records = [make_log(A) for _ in range(6)]
    records[2]["subjects"] = "many"
    records[4]["colour"] = "blue"
    file = write_jsonl(tmp_path / "logs.jsonl", records)
    with gateway() as client:
        result = pusher(client, token, batch_records=4).push(file)
    assert sorted((r.line, r.field) for r in result.refused) == [(3, "subjects"), (5, "colour")]
    assert (result.accepted, result.duplicates, result.refused_lines) == (4, 0, 2)
    good = {r["transfer_id"] for i, r in enumerate(records) if i not in (2, 4)}
    assert {r["transfer_id"] for _, r in read_logs()} >= good
    assert not checkpoint_path(file).exists()


def test_429_waits_for_retry_after_then_everything_is_accepted(
    gateway: Any, new_key: Any, make_log: Any, tmp_path: Path
) -> None:
    token = new_key(A)
    file = write_jsonl(tmp_path / "logs.jsonl", [make_log(A) for _ in range(6)])
    sleeps: list[float] = []
    with gateway(rate_per_s=50, rate_burst=1) as client:
        result = pusher(client, token, sleeps, batch_records=2, max_attempts=20).push(file)
    assert result.accepted == 6
    assert sleeps and all(s >= 1.0 for s in sleeps)  # Retry-After is at least 1 s


def test_an_interrupted_push_resumes_after_the_last_acknowledged_batch(
    gateway: Any, new_key: Any, make_log: Any, tmp_path: Path
) -> None:
    token = new_key(A)
    file = write_jsonl(tmp_path / "logs.jsonl", [make_log(A) for _ in range(6)])
    with gateway(rate_per_s=0.01, rate_burst=1) as client, pytest.raises(PushError):
        pusher(client, token, batch_records=2, max_attempts=1).push(file)
    assert orjson.loads(checkpoint_path(file).read_bytes())["next_line"] == 3
    with gateway() as client:
        result = pusher(client, token, batch_records=2).push(file)
    assert result.resumed_from == 3
    assert (result.lines, result.accepted, result.duplicates) == (4, 4, 0)


def test_keys_cli_prints_the_key_last_and_never_lists_it(tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", A, "--data-dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("xbk_")
    listed = runner.invoke(cli, ["keys", "list", "--data-dir", str(tmp_path)])
    key_id = token.split("_")[1]
    assert key_id in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    stored = b"".join(p.read_bytes() for p in (tmp_path / "gateway").iterdir())
    assert token.split("_", 2)[2].encode() not in stored  # only a keyed hash is kept
    assert (
        runner.invoke(cli, ["keys", "revoke", key_id, "--data-dir", str(tmp_path)]).exit_code == 0
    )
    assert "revoked" in runner.invoke(cli, ["keys", "list", "--data-dir", str(tmp_path)]).stdout
    assert (
        runner.invoke(cli, ["keys", "revoke", "nope", "--data-dir", str(tmp_path)]).exit_code == 1
    )
    bad = runner.invoke(cli, ["keys", "create", "not-a-uscc", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2


def test_another_enterprises_line_is_refused_and_oversized_batches_are_halved(
    gateway: Any, new_key: Any, make_log: Any, tmp_path: Path
) -> None:
    token = new_key(A)
    records = [make_log(A) for _ in range(7)]
    records[5]["enterprise_id"] = "91310000MA1FL0001R"
    file = write_jsonl(tmp_path / "logs.jsonl", records)
    with gateway(max_records=2) as client:
        result = pusher(client, token, batch_records=7).push(file)
    assert [(r.line, r.field) for r in result.refused] == [(6, "enterprise_id")]
    assert (result.accepted, result.refused_lines, result.lines) == (6, 1, 7)


def test_push_command_prints_refused_lines_and_exits_1(
    broker: LocalBroker, new_key: Any, make_log: Any, data_dir: Path, tmp_path: Path
) -> None:
    """The CLI over real HTTP (uvicorn on a loopback port)."""
    token = new_key(A)
    records = [make_log(A), make_log(A, subjects=-1), make_log(A)]
    file = write_jsonl(tmp_path / "logs.jsonl", records)
    app = create_app(
        Settings(gateway=GatewaySettings(status_enabled=False)),
        bootstrap=broker.bootstrap_servers,
        data_dir=data_dir,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        result = CliRunner().invoke(cli, ["push", str(file), "--url", url, "--key", token])
        wrong_key = CliRunner().invoke(cli, ["push", str(file), "--url", url, "--key", "xbk_no"])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert result.exit_code == 1
    assert f"{file}:2: subjects:" in result.stderr
    assert orjson.loads(result.stdout.strip().splitlines()[-1])["accepted"] == 2
    assert wrong_key.exit_code == 2
    assert "401" in wrong_key.stderr
