"""Run one xbmon worker process (server mode, and the embedded mode's child process)."""

from __future__ import annotations

import logging

import faust

from agents.app import create_app
from pipeline import metrics
from pipeline.settings import Settings
from pipeline.sink import EvidenceSink

log = logging.getLogger(__name__)


def run_worker(settings: Settings, sink: EvidenceSink | None, loglevel: str = "warning") -> None:
    """Blocks until the worker is stopped (SIGINT/SIGTERM)."""
    built = create_app(settings, sink)
    metrics.serve(settings.metrics_port, settings.metrics_host)
    worker = faust.Worker(built.app, loglevel=loglevel, quiet=True)
    try:
        worker.execute_from_commandline()
    finally:
        built.output.close()
