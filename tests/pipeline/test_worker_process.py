"""Reading a worker child's metrics, as the bench and the stack tests do."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from pipeline.embedded import WorkerProcess

METRICS = b"# TYPE xbmon_events_total counter\nxbmon_events_total 7.0\n"


class FlakyEndpoint(BaseHTTPRequestHandler):
    """Fails its first request (a busy or restarting endpoint), then serves samples."""

    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        if type(self).requests == 1:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(METRICS)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[int]:
    FlakyEndpoint.requests = 0
    server = HTTPServer(("127.0.0.1", 0), FlakyEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def worker(port: int, command: list[str], tmp_path: Path) -> WorkerProcess:
    return WorkerProcess("w", subprocess.Popen(command), port, tmp_path / "log")


def test_a_live_workers_failed_scrape_is_tried_again(endpoint: int, tmp_path: Path) -> None:
    # Summed over workers, an empty reading would count as zeros.
    live = worker(endpoint, ["sleep", "30"], tmp_path)
    try:
        assert live.metrics() == {("xbmon_events_total", ()): 7.0}
        assert FlakyEndpoint.requests == 2
    finally:
        live.process.kill()
        live.process.wait()


def test_a_dead_workers_scrape_is_not_retried(endpoint: int, tmp_path: Path) -> None:
    dead = worker(endpoint, ["true"], tmp_path)
    dead.process.wait()
    assert dead.metrics() == {}
    assert FlakyEndpoint.requests == 1
