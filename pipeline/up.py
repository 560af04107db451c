"""`xbmon up`: the main job on the embedded default.

Starts the local broker and a worker (with the chDB evidence store in the data directory),
publishes a synthetic world's reference data, replays its traffic at a fixed rate and shows
the live view until `duration` runs out or Ctrl-C. Ends with one JSON summary line.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live

from pipeline.embedded import Stack, StackError, wait_until
from pipeline.live import LiveState, render, summary_counts
from pipeline.loadgen import LoadGenerator
from pipeline.store_writer import GROUP_SUFFIX as WRITER_GROUP_SUFFIX
from pipeline.synth import synthesize
from pipeline.topics import EGRESS_FLOWS, EVIDENCE_ROWS, TRANSFER_LOGS


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    duration: float | None
    rate: int
    enterprises: int
    days: int
    seed: int
    partitions: int
    workers: int
    metrics_port: int | None
    gateway_port: int | None = None


def run_up(options: UpOptions, console: Console) -> dict[str, object]:
    world = synthesize(enterprises=options.enterprises, days=options.days, seed=options.seed)
    stack = Stack(options.data_dir / "embedded", partitions=options.partitions)
    started = time.monotonic()
    with stack:
        console.print("[bold]xbmon up[/]: starting the broker and the worker ...")
        stack.start(workers=options.workers, metrics_port=options.metrics_port)
        stack.publish_reference([*world.enterprises, *world.filings, *world.negative_list])
        console.print(
            f"loaded {len(world.enterprises)} enterprises, {len(world.filings)} filings, "
            f"{len(world.negative_list)} negative-list items; metrics on "
            + ", ".join(f"http://127.0.0.1:{w.metrics_port}/metrics" for w in stack.workers)
        )
        if options.gateway_port is not None:
            stack.add_gateway(options.gateway_port, options.data_dir)
            console.print(
                f"gateway on http://127.0.0.1:{options.gateway_port} (keys: xbmon keys create "
                f"USCC --data-dir {options.data_dir})"
            )
        load = LoadGenerator(stack, world, options.rate, seed=options.seed)
        load.start()
        state = LiveState()
        try:
            with Live(console=console, refresh_per_second=2, transient=False) as live:
                while options.duration is None or time.monotonic() - started < options.duration:
                    if load.error is not None:
                        raise load.error
                    live.update(
                        render(
                            stack.metrics(),
                            dict(load.stats.records),
                            state,
                            len(stack.live_workers()),
                        )
                    )
                    time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("stopping ...")
        finally:
            load.stopping.set()
            load.join(timeout=10)
        produced = dict(load.stats.records)
        _drain(stack, produced)
        samples = stack.metrics()
    counts = summary_counts(samples)
    stored = _stored_findings(stack)
    return {
        "transfers": int(counts["transfers"]),
        "flows": int(counts["flows"]),
        "findings": int(counts["findings"]),
        "deadletter": int(counts["deadletter"]),
        "produced_transfers": produced.get(TRANSFER_LOGS.name, 0),
        "produced_flows": produced.get(EGRESS_FLOWS.name, 0),
        "invalid_injected": load.stats.invalid,
        "stored_findings": stored,
        "seconds": round(time.monotonic() - started, 1),
    }


def _drain(stack: Stack, produced: dict[str, int], timeout: float = 30.0) -> None:
    """Let the workers catch up with what was produced (bounded)."""

    def caught_up() -> bool:
        return all(
            stack.metric("xbmon_events_total", topic=topic) >= count
            for topic, count in produced.items()
        )

    # On a timeout the summary shows what was processed; nothing is hidden.
    with contextlib.suppress(StackError):
        wait_until(caught_up, timeout, "the workers to catch up", interval=0.25)
        wait_until(
            lambda: stack.lag(EVIDENCE_ROWS.name, group=stack.app_id + WRITER_GROUP_SUFFIX) == 0,
            timeout,
            "the store writer to catch up",
            interval=0.5,
        )


def _stored_findings(stack: Stack) -> int | None:
    """Findings in the evidence store once everything has stopped (None: no store)."""
    if not stack.store:
        return None
    from pipeline.settings import Settings
    from pipeline.storage import open_store

    store = open_store(Settings(data_dir=stack.data_dir))
    try:
        rows = store.query(
            "SELECT count() AS n FROM (SELECT finding_id FROM {database:Identifier}.findings FINAL)"
        )
        return int(rows[0]["n"])
    finally:
        store.close()
