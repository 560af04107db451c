"""Run one xbmon worker process (server mode, and the embedded mode's child process)."""

from __future__ import annotations

import logging

import faust

from agents.app import create_app
from pipeline import metrics
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Blocks until the worker is stopped (SIGINT/SIGTERM)."""
    built = create_app(settings)
    metrics.serve(settings.metrics_port, settings.metrics_host)
    faust.Worker(built.app, loglevel=loglevel, quiet=True).execute_from_commandline()
