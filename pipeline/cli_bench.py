"""`xbmon bench`: throughput against the transport limit, latency, memory (see pipeline.bench)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def bench(
    duration: Annotated[
        float, typer.Option(min=1, help="Seconds of each paced (latency) phase.")
    ] = 6.0,
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
    linger: Annotated[
        float,
        typer.Option(min=0, help="Paced load: seconds a key's records gather into one message."),
    ] = 0.5,
    flows: Annotated[int, typer.Option(min=1000, help="Flow records in the backlog.")] = 150_000,
    logs: Annotated[int, typer.Option(min=1000, help="Transfer logs in the backlog.")] = 80_000,
    data_dir: Annotated[Path, typer.Option(help="Scratch directory (emptied first).")] = Path(
        ".data/bench"
    ),
    soak: Annotated[
        float | None,
        typer.Option(help="Soak mode: run S seconds at --rate, sampling RSS and lag (not in CI)."),
    ] = None,
    rate: Annotated[float, typer.Option(min=1, help="Soak mode: records per second.")] = 2000,
    sample_every: Annotated[float, typer.Option(min=1, help="Soak mode: seconds per sample.")] = 30,
    store_rows: Annotated[
        int, typer.Option(min=1000, help="Rows of the chDB insert measurement.")
    ] = 100_000,
    matching_filings: Annotated[
        str, typer.Option(help="Reference sizes (filings) of the matching-cost measurement.")
    ] = "1000,100000",
    latency_at: Annotated[
        str,
        typer.Option(help="Also measure latency at these records/s, e.g. 1000,2000,4000."),
    ] = "",
    broker_rtt_ms: Annotated[
        float,
        typer.Option(min=0, help="Put the broker this many ms of round trip away (a proxy)."),
    ] = 0.0,
) -> None:
    """Measure the real worker against a bare consumer; last stdout line: JSON figures."""
    import shutil

    import orjson
    from rich.console import Console
    from rich.table import Table

    from pipeline.bench import BenchOptions, run_bench, run_soak

    err = Console(stderr=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    options = BenchOptions(
        data_dir=data_dir,
        duration_s=duration,
        records_per_message=records_per_message,
        enterprises=enterprises,
        filings=filings,
        workers=workers,
        flows=flows,
        logs=logs,
        store_rows=store_rows,
        linger_s=linger,
        matching_filings=tuple(int(n) for n in matching_filings.split(",")),
        latency_rates=tuple(float(r) for r in latency_at.split(",") if r.strip()),
        broker_rtt_ms=broker_rtt_ms,
    )
    report = lambda line: err.print(f"[dim]bench[/dim] {line}")  # noqa: E731
    if soak is not None:
        samples = run_soak(options, soak, rate, sample_every, report)
        first, last = samples[0], samples[-1]
        summary = {
            "soak_s": soak,
            "rate": rate,
            "samples": len(samples),
            "worker_rss_first_mb": first.worker_rss_mb,
            "worker_rss_last_mb": last.worker_rss_mb,
            "worker_rss_max_mb": max(s.worker_rss_mb for s in samples),
            "max_lag_records": max(s.lag_records for s in samples),
            "csv": str(data_dir / "soak.csv"),
        }
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    result = run_bench(options, report)
    summary = result.summary()
    table = Table(title=f"xbmon bench: {workers} worker(s), {records_per_message} records/message")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    Console().print(table)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
