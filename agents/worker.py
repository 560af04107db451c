"""Run one xbmon worker process (server mode, and the embedded mode's child process)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import faust

from agents.app import create_app
from pipeline import metrics
from pipeline.gc_tuning import observe_collections, tune_worker_gc
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def _dump_tasks(signum: int, frame: object) -> None:
    """SIGUSR1: print every asyncio task's stack to stderr (what is a stuck worker awaiting?)."""
    loop = asyncio.get_event_loop()
    for task in asyncio.all_tasks(loop):
        task.print_stack(limit=40, file=sys.stderr)
    sys.stderr.flush()


class Worker(faust.Worker):
    """Faust's worker without its terminal spinner.

    To spin on every log record, Faust sets the root logger to DEBUG and adds a handler at
    DEBUG, so every `log.debug` in aiokafka and Faust built and handled a record: 5-10 % of
    a loaded worker's CPU. Without the spinner the root logger keeps `loglevel`.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Blocks until the worker is stopped (SIGINT/SIGTERM); SIGUSR1 dumps its tasks."""
    signal.signal(signal.SIGUSR1, _dump_tasks)
    tune_worker_gc(settings)
    observe_collections(metrics.GC_SECONDS)
    built = create_app(settings)
    metrics.serve(settings.metrics_port, settings.metrics_host)
    Worker(built.app, loglevel=loglevel, quiet=True).execute_from_commandline()
