"""The `xbmon` command line (typer + rich)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from pipeline import cli_dashboards, cli_gateway
from pipeline.cli_bench import bench
from pipeline.cli_evidence import evidence_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="xbmon: cross-border data transfer monitor."
)
schema_app = typer.Typer(no_args_is_help=True, help="Data contracts as JSON Schema.")
app.add_typer(schema_app, name="schema")
reference_app = typer.Typer(no_args_is_help=True, help="Reference data on the compacted topics.")
app.add_typer(reference_app, name="reference")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts for on-call responders.")
app.add_typer(alerts_app, name="alerts")
spotcheck_app = typer.Typer(no_args_is_help=True, help='The "double random" spot-check draw.')
app.add_typer(spotcheck_app, name="spotcheck")
enterprise_app = typer.Typer(no_args_is_help=True, help="One enterprise's supervision.")
app.add_typer(enterprise_app, name="enterprise")
app.add_typer(cli_gateway.keys_app, name="keys")
app.command("gateway")(cli_gateway.gateway)
app.command("push")(cli_gateway.push)
schema_app.command("openapi")(cli_gateway.openapi)
app.command()(bench)
app.add_typer(evidence_app, name="evidence")
cli_dashboards.register(app)  # `xbmon report`, `xbmon dashboards build`

DataDirOption = Annotated[
    Path,
    typer.Option(help="Data directory of the embedded mode (as given to `xbmon up`)."),
]


def _store(data_dir: Path) -> EvidenceStore:
    """The evidence store: chDB under DATA_DIR/embedded, or the server the settings name."""
    from pipeline.settings import Settings
    from pipeline.storage import open_store

    store = open_store(Settings(data_dir=data_dir / "embedded"))
    store.ensure_schema()
    return store


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged or resolved (default: any).")
    ] = None,
    enterprise: Annotated[str | None, typer.Option(help="One enterprise (USCC).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """The latest alerts with their effective status."""
    import orjson
    from rich.table import Table

    from pipeline.alert_store import list_alerts

    with _store(data_dir) as store:
        rows = list_alerts(store, status=status, enterprise_id=enterprise, limit=limit)
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")
        return
    table = Table(title=f"{len(rows)} alerts")
    for column in (
        "alert_id",
        "status",
        "severity",
        "route",
        "tier",
        "rule",
        "enterprise",
        "day",
        "count",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["alert_id"],
            r["status"],
            r["severity"],
            r["route"],
            r["tier"],
            r["rule_id"],
            r["enterprise_id"],
            str(r["day"]),
            str(r["count"]),
        )
    Console().print(table)


def _act(
    alert_id: str,
    status: Literal["acknowledged", "resolved"],
    actor: str,
    note: str | None,
    data_dir: Path,
) -> None:
    from pipeline.alert_store import AlertNotFoundError, record_action
    from pipeline.alerts import AlertError
    from pipeline.worker import utc_now

    now = utc_now()
    try:
        with _store(data_dir) as store:
            row = record_action(store, alert_id, status, actor, now, note)
    except (AlertError, AlertNotFoundError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    err.print(f"alert {alert_id} is now {row['status']}")
    if status == "resolved":
        _tell_the_stream(row, status, actor, now, data_dir)


def _tell_the_stream(
    row: dict[str, Any], status: str, actor: str, now: datetime, data_dir: Path
) -> None:
    """Publish the action on `alert.actions` so the scoring counts resolved findings as such."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from pipeline.alert_store import action_message
    from pipeline.embedded import running_bootstrap
    from pipeline.settings import Settings
    from pipeline.topics import ALERT_ACTIONS

    settings = Settings()
    bootstrap = running_bootstrap(data_dir / "embedded") or (
        settings.kafka.bootstrap_servers if settings.mode == "server" else None
    )
    if bootstrap is None:
        err.print(
            "[yellow]warning:[/] no running stream to tell: the resolution is stored, but the "
            "scores keep counting these findings as unresolved"
        )
        return
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_block_ms=3000)
        producer.send(
            ALERT_ACTIONS.name,
            key=str(row["enterprise_id"]).encode(),
            value=action_message(row, status, actor, now),
        ).get(timeout=10)
        producer.close(timeout=5)
    except KafkaError as exc:
        err.print(
            f"[yellow]warning:[/] the action is stored, but no stream could be told ({exc}); "
            "the enterprise's score counts these findings as resolved once it is"
        )


@alerts_app.command("ack")
def alerts_ack(
    alert_id: str,
    by: Annotated[str, typer.Option("--by", help="Who acknowledges.")],
    note: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """Acknowledge an open alert."""
    _act(alert_id, "acknowledged", by, note, data_dir)


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: str,
    by: Annotated[str, typer.Option("--by", help="Who resolves.")],
    note: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """Resolve an open or acknowledged alert (a later finding of the same day reopens it)."""
    _act(alert_id, "resolved", by, note, data_dir)


@spotcheck_app.command("plan")
def spotcheck_plan(
    period: Annotated[str, typer.Option(help="YYYY-MM")],
    seed: Annotated[str, typer.Option(help="The published seed, hex (>= 128 bits).")],
    inspectors: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="Inspector ids, one a line.")
    ],
    register: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="CSV enterprise_id,tier (default: the latest tiers in the store).",
        ),
    ] = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON.")] = False,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """Draw the period's plan reproducibly from the seed, store it, print it."""
    from pipeline.spotcheck import (
        SpotcheckError,
        draw_plan,
        plan_csv,
        plan_json,
        read_inspectors,
        read_register_csv,
        store_plan,
    )

    if register is None:
        from pipeline.scores_store import tier_register

        with _store(data_dir) as store:
            enterprises = tier_register(store)
    else:
        enterprises = read_register_csv(register)
    try:
        plan = draw_plan(period, seed, enterprises, read_inspectors(inspectors))
        path = store_plan(plan, data_dir)
    except (SpotcheckError, FileExistsError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    sys.stdout.write(plan_csv(plan) if csv else plan_json(plan).decode() + "\n")
    err.print(f"stored {path}")


@enterprise_app.command("show")
def enterprise_show(
    enterprise_id: Annotated[str, typer.Argument(help="USCC of the enterprise.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """Credit, risk and tier of an enterprise, and the contributions behind them."""
    import orjson
    from rich.table import Table

    from pipeline.scores_store import latest_scores

    with _store(data_dir) as store:
        rows = latest_scores(store, enterprise_id)
    if not rows:
        err.print(f"[red]error:[/] no score for {enterprise_id}")
        raise typer.Exit(1)
    row = rows[0]
    if as_json:
        sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")
        return
    table = Table(
        title=f"{enterprise_id}: tier {row['tier']} · credit {row['credit']:g} · "
        f"risk {row['risk']:g} (as of {row['computed_at']:%Y-%m-%d %H:%M} UTC, "
        f"parameters {row['config_version']})"
    )
    for column in ("score", "indicator", "points", "reason"):
        table.add_column(column, justify="right" if column == "points" else "left")
    for part in row["contributions"]:
        table.add_row(part["score"], part["indicator"], f"{part['points']:+g}", part["reason"])
    Console().print(table)


@spotcheck_app.command("verify")
def spotcheck_verify(
    plan: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Published plan.")],
    register: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    inspectors: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    seed: Annotated[str | None, typer.Option(help="The seed that was announced.")] = None,
) -> None:
    """Recompute a published plan; exit 0 only if it matches."""
    from pipeline.spotcheck import SpotcheckError, read_inspectors, read_register_csv, verify_plan

    try:
        result = verify_plan(
            plan.read_bytes(),
            read_register_csv(register),
            read_inspectors(inspectors),
            expected_seed=seed,
        )
    except SpotcheckError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    if not result.ok:
        for reason in result.reasons:
            err.print(f"[red]mismatch:[/] {reason}")
        raise typer.Exit(1)
    err.print("[green]the plan matches the seed, the register and the inspectors[/]")


if TYPE_CHECKING:
    from pipeline.storage import EvidenceStore

err = Console(stderr=True, soft_wrap=True)

EXIT_INVALID_INPUT = 3

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Rule parameters YAML (default: the shipped rules.yaml).",
        exists=True,
        dir_okay=False,
    ),
]


@app.command()
def replay(
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Directory in the replay layout.")
    ],
    rules: RulesOption = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Also print findings by rule on stderr.")
    ] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Push the files through a local broker and the real workers instead, and "
            "print the findings the stream produced (same format).",
        ),
    ] = False,
) -> None:
    """Run the rule engine over DIR offline and print findings as JSON lines."""
    from pipeline.config import load_rules_config
    from pipeline.replay import replay_dir
    from pipeline.views import findings_table
    from pipeline.wire import finding_json

    config = load_rules_config(rules) if rules else None
    try:
        if stream:
            from pipeline.stream_replay import stream_replay

            result = stream_replay(directory, rules_path=rules)
        else:
            result = replay_dir(directory, config)
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    out = sys.stdout.buffer
    for finding in result.findings:
        out.write(finding_json(finding) + b"\n")  # the findings topic's bytes
    out.flush()
    for message in result.errors:
        err.print(message, markup=False, highlight=False, soft_wrap=True)
    if summary:
        err.print(findings_table(result.findings))
    if result.errors:
        raise typer.Exit(EXIT_INVALID_INPUT)


@app.command()
def synth(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Output directory.")],
    enterprises: Annotated[int, typer.Option(min=1, help="Number of enterprises.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Days of traffic.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
) -> None:
    """Write a seeded synthetic world in the replay layout, plus truth.jsonl."""
    from pipeline.synth import synthesize, write_world

    world = synthesize(enterprises=enterprises, days=days, seed=seed)
    write_world(world, directory)
    err.print(
        f"wrote {len(world.enterprises)} enterprises, {len(world.filings)} filings, "
        f"{len(world.logs)} transfer logs, {len(world.flows)} flows, "
        f"{len(world.truth)} injected violations to {directory}"
    )


@reference_app.command("load")
def reference_load(
    directory: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            file_okay=False,
            help="Directory with enterprises.jsonl, filings.jsonl, negative_list.jsonl "
            "(any of them).",
        ),
    ] = None,
    shipped_negative_lists: Annotated[
        bool,
        typer.Option(
            "--shipped-negative-lists", help="Also publish the example editions xbmon ships."
        ),
    ] = False,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (default: from settings).")
    ] = None,
) -> None:
    """Validate reference files and publish them to the compacted reference topics."""
    from pipeline.reference_publish import load_reference_files, publish_reference
    from pipeline.settings import Settings

    settings = Settings()
    records, errors = load_reference_files(directory, shipped_negative_lists)
    for message in errors:
        err.print(message, markup=False, highlight=False, soft_wrap=True)
    published = publish_reference(
        records, bootstrap or settings.kafka.bootstrap_servers, settings.kafka.producer_idempotence
    )
    for topic, count in sorted(published.items()):
        err.print(f"published {count} records to {topic}")
    if errors:
        raise typer.Exit(EXIT_INVALID_INPUT)


@schema_app.command("export")
def schema_export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Output directory.")],
) -> None:
    """Write the JSON Schema of every contract to DIR (one file per model)."""
    from schemas.export import write_json_schemas

    for path in write_json_schemas(directory):
        err.print(f"wrote {path}")


@app.command()
def up(
    duration: Annotated[
        float | None, typer.Option(help="Stop after S seconds (default: until Ctrl-C).")
    ] = None,
    rate: Annotated[int, typer.Option(min=1, help="Synthetic records per second.")] = 2000,
    data_dir: Annotated[Path, typer.Option(help="Where the broker log and the store live.")] = Path(
        ".data"
    ),
    metrics_port: Annotated[
        int | None, typer.Option(help="Metrics port of the first worker (default: a free one).")
    ] = None,
    enterprises: Annotated[int, typer.Option(min=1, help="Enterprises in the world.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Days of traffic per loop of the world.")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic world.")] = 1,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions per topic.")] = 4,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    gateway_port: Annotated[
        int | None, typer.Option(help="Also run the enterprise gateway on this port.")
    ] = None,
) -> None:
    """The main job, embedded: broker, worker, store and a live synthetic load."""
    import orjson
    from rich.console import Console

    from pipeline.up import UpOptions, run_up

    summary = run_up(
        UpOptions(
            data_dir=data_dir,
            duration=duration,
            rate=rate,
            enterprises=enterprises,
            days=days,
            seed=seed,
            partitions=partitions,
            workers=workers,
            metrics_port=metrics_port,
            gateway_port=gateway_port,
        ),
        Console(stderr=True),
    )
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="Faust log level.")] = "warning",
) -> None:
    """Run one stream worker (settings from XBMON_* environment variables)."""
    from agents.worker import run_worker
    from pipeline.settings import Settings

    run_worker(Settings(), loglevel)


@app.command("store-writer")
def store_writer() -> None:
    """Write evidence rows from the `evidence.rows` topic into the store (one per chDB)."""
    from pipeline.settings import Settings
    from pipeline.store_writer import run_store_writer

    run_store_writer(Settings())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
