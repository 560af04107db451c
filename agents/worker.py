"""Run one xbmon worker process (server mode, and the embedded mode's child process)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import faust

from agents.app import create_app
from pipeline import metrics
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def _dump_tasks(signum: int, frame: object) -> None:
    """SIGUSR1: print every asyncio task's stack to stderr (what is a stuck worker awaiting?)."""
    loop = asyncio.get_event_loop()
    for task in asyncio.all_tasks(loop):
        task.print_stack(limit=40, file=sys.stderr)
    sys.stderr.flush()


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Blocks until the worker is stopped (SIGINT/SIGTERM); SIGUSR1 dumps its tasks."""
    signal.signal(signal.SIGUSR1, _dump_tasks)
    built = create_app(settings)
    metrics.serve(settings.metrics_port, settings.metrics_host)
    faust.Worker(built.app, loglevel=loglevel, quiet=True).execute_from_commandline()
