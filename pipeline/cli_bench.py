"""`xbmon bench`: throughput against the transport limit, latency, memory (see pipeline.bench)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def bench(
    duration: Annotated[
        float, typer.Option(min=1, help="Seconds of each paced (latency) phase.")
    ] = 10.0,
    records_per_message: Annotated[
        int, typer.Option(min=1, help="Records per Kafka message (producers batch).")
    ] = 100,
    enterprises: Annotated[
        int, typer.Option(min=1, help="Enterprises in the reference data (200 send traffic).")
    ] = 200,
    filings: Annotated[
        int | None, typer.Option(min=0, help="Filings in the reference data (padded).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    flows: Annotated[int, typer.Option(min=1000, help="Flow records in the backlog.")] = 200_000,
    logs: Annotated[int, typer.Option(min=1000, help="Transfer logs in the backlog.")] = 100_000,
    data_dir: Annotated[Path, typer.Option(help="Scratch directory (emptied first).")] = Path(
        ".data/bench"
    ),
) -> None:
    """Measure the real worker against a bare consumer; last stdout line: JSON figures."""
    import shutil

    import orjson
    from rich.console import Console
    from rich.table import Table

    from pipeline.bench import BenchOptions, run_bench

    err = Console(stderr=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    result = run_bench(
        BenchOptions(
            data_dir=data_dir,
            duration_s=duration,
            records_per_message=records_per_message,
            enterprises=enterprises,
            filings=filings,
            workers=workers,
            flows=flows,
            logs=logs,
        ),
        lambda line: err.print(f"[dim]bench[/dim] {line}"),
    )
    summary = result.summary()
    table = Table(title=f"xbmon bench: {workers} worker(s), {records_per_message} records/message")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    Console().print(table)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
