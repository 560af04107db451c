"""`xbmon report` (the regulator overview as one HTML page) and `xbmon dashboards build`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)
dashboards_app = typer.Typer(no_args_is_help=True, help="Grafana dashboards as code.")


def parse_bound(text: str, *, end: bool) -> datetime:
    """A date (a whole day in the rules' time zone, Asia/Shanghai) or an aware ISO datetime.

    As an end, a date means the end of that day (its last second), so `--to 2025-03-07`
    includes the 7th.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO datetime"
        ) from None
    if len(text) == 10:  # a bare date
        from pipeline.config import default_rules_config

        zone = default_rules_config().zone
        day = value.date() + timedelta(days=1 if end else 0)
        value = datetime.combine(day, time(0), zone) - timedelta(seconds=1 if end else 0)
    elif value.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset (e.g. 2025-03-07T00:00:00+08:00)")
    return value.astimezone(UTC)


def report(
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or datetime.")],
    to: Annotated[str, typer.Option("--to", help="Last day (inclusive) or datetime.")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.", dir_okay=False)],
    data_dir: Annotated[
        Path, typer.Option(help="Data directory of the embedded mode (as given to `xbmon up`).")
    ] = Path(".data"),
) -> None:
    """The regulator overview for a period as one self-contained HTML page (no network)."""
    from dashboards.report import collect, render
    from pipeline.settings import Settings
    from pipeline.storage import StoreError, open_store

    start, end = parse_bound(from_, end=False), parse_bound(to, end=True)
    if end <= start:
        raise typer.BadParameter("--to must be after --from")
    if not out.parent.is_dir():
        raise typer.BadParameter(f"{out.parent} is not a directory", param_hint="--out")
    try:
        with open_store(Settings(data_dir=data_dir / "embedded")) as store:
            store.ensure_schema()
            panels = collect(store, start, end)
    except StoreError as exc:
        err.print(f"[red]cannot read the evidence store:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    page = render(panels, start, end, datetime.now(UTC))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    err.print(f"wrote {out} ({len(page.encode()):,} bytes, {len(panels)} panels)")


@dashboards_app.command("build")
def build(
    check: Annotated[
        bool, typer.Option("--check", help="Only check that dashboards/json/ is current.")
    ] = False,
) -> None:
    """Regenerate the committed dashboard JSON (dashboards/json/) from the code."""
    from dashboards.__main__ import main

    code = main(["--check"] if check else [])
    if code:
        raise typer.Exit(code)


@dashboards_app.command("demo")
def demo(
    data_dir: Annotated[Path, typer.Option(help="Data directory (as for `xbmon up`).")] = Path(
        ".data"
    ),
    enterprises: Annotated[int, typer.Option(min=1)] = 60,
    days: Annotated[int, typer.Option(min=1)] = 7,
    seed: Annotated[int, typer.Option()] = 1,
) -> None:
    """Fill the embedded store with a synthetic world, through the worker's code path.

    For trying the dashboards and `xbmon report` without running the stream; the world's
    period is printed (the synthetic world starts on 2025-03-03, Beijing time).
    """
    from pipeline.settings import Settings
    from pipeline.storage import StoreError, open_store
    from pipeline.synth import synthesize
    from pipeline.world_store import store_world

    world = synthesize(enterprises=enterprises, days=days, seed=seed)
    try:
        with open_store(Settings(data_dir=data_dir / "embedded")) as store:
            store.ensure_schema()
            written = store_world(store, world)
    except StoreError as exc:
        err.print(f"[red]cannot write the evidence store:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    first = min(log.ts for log in world.logs)
    last = max(log.ts for log in world.logs)
    err.print(f"stored {dict(sorted(written.items()))}")
    err.print(f"period: {first.isoformat()} .. {last.isoformat()}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(dashboards_app, name="dashboards")
