"""CLI of the enterprise ingestion: `xbmon gateway`, `xbmon keys ...`, `xbmon push`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

keys_app = typer.Typer(no_args_is_help=True, help="Enterprise API keys of the gateway.")
err = Console(stderr=True, soft_wrap=True)

EXIT_REFUSED = 1
EXIT_INCOMPLETE = 2


def _data_dir(value: Path | None) -> Path:
    from pipeline.settings import Settings

    return value if value is not None else Settings().data_dir


DataDir = Annotated[
    Path | None,
    typer.Option(help="Data directory (as given to `xbmon up`; default: XBMON_DATA_DIR or .data)."),
]


@keys_app.command("create")
def keys_create(
    enterprise_id: Annotated[
        str, typer.Argument(help="USCC of the enterprise the key pushes for.")
    ],
    data_dir: DataDir = None,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Refuse unsigned requests of this key.")
    ] = False,
    label: Annotated[str | None, typer.Option(help="A note, e.g. who holds the key.")] = None,
) -> None:
    """Create a key; it is printed once, on the last line, and stored only as a hash."""
    from pydantic import TypeAdapter, ValidationError

    from pipeline.gateway.keys import KeyStore
    from pipeline.settings import Settings
    from pipeline.worker import utc_now
    from schemas.types import Uscc

    try:
        TypeAdapter(Uscc).validate_python(enterprise_id)
    except ValidationError as exc:
        err.print(f"[red]error:[/] {enterprise_id}: {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from exc
    store = KeyStore(_data_dir(data_dir), Settings().gateway.key_pepper)
    try:
        new = store.create(
            enterprise_id, utc_now(), require_signature=require_signature, label=label
        )
    finally:
        store.close()
    err.print(
        f"key {new.key.key_id} for {enterprise_id} created; keep it secret, it is not shown again"
    )
    sys.stdout.write(new.token + "\n")


@keys_app.command("list")
def keys_list(
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's keys.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Key ids, enterprises and state (never the keys themselves)."""
    from rich.table import Table

    from pipeline.gateway.keys import KeyStore
    from pipeline.settings import Settings

    store = KeyStore(_data_dir(data_dir), Settings().gateway.key_pepper)
    try:
        keys = store.list(enterprise)
    finally:
        store.close()
    table = Table(title=f"{len(keys)} keys")
    for column in ("key_id", "enterprise", "state", "signed", "created", "label"):
        table.add_column(column)
    for key in keys:
        state = f"revoked {key.revoked_at}" if key.revoked_at else "live"
        signed = "required" if key.require_signature else "optional"
        table.add_row(key.key_id, key.enterprise_id, state, signed, key.created_at, key.label or "")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (second part of the key).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a key; a running gateway refuses it from its next request."""
    from pipeline.gateway.keys import KeyStore, UnknownKeyError
    from pipeline.settings import Settings
    from pipeline.worker import utc_now

    store = KeyStore(_data_dir(data_dir), Settings().gateway.key_pepper)
    try:
        changed = store.revoke(key_id, utc_now())
    except UnknownKeyError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    err.print(f"key {key_id} " + ("revoked" if changed else "was already revoked"))


def gateway(
    host: Annotated[str | None, typer.Option(help="Listen address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings, 8088).")] = None,
    data_dir: DataDir = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (default: settings).")
    ] = None,
) -> None:
    """Run the enterprise gateway (server mode: produces to the configured Kafka)."""
    import uvicorn

    from pipeline.gateway.app import create_app
    from pipeline.settings import Settings

    settings = Settings()
    app = create_app(settings, bootstrap=bootstrap, data_dir=_data_dir(data_dir))
    uvicorn.run(
        app,
        host=host or settings.gateway.host,
        port=settings.gateway.port if port is None else port,
        log_level="warning",
    )


def push(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Transfer logs, JSONL.")
    ],
    url: Annotated[str, typer.Option(help="Gateway base URL, e.g. http://127.0.0.1:8088")],
    key: Annotated[str, typer.Option(envvar="XBMON_KEY", help="Your API key (or XBMON_KEY).")],
    batch: Annotated[int, typer.Option(min=1, help="Records per request.")] = 500,
    sign: Annotated[bool, typer.Option("--sign", help="Sign every request (HMAC-SHA256).")] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the checkpoint and start from line 1.")
    ] = False,
) -> None:
    """Push a JSONL file of transfer logs; resumable; exit 1 if any line was refused."""
    import orjson
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from pipeline.push import Pusher, PushError, PushOptions, read_checkpoint

    start = 1 if restart else read_checkpoint(file)
    if start > 1:
        err.print(f"resuming {file} at line {start}")
    with file.open("rb") as handle:
        total = sum(1 for n, line in enumerate(handle, 1) if n >= start and line.strip())
    pusher = Pusher(
        PushOptions(url=url, key=key, batch_records=batch, signed=sign, restart=restart)
    )
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    try:
        with progress:
            task = progress.add_task(f"pushing {file.name}", total=total)
            result = pusher.push(file, lambda n: progress.advance(task, n))
    except PushError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_INCOMPLETE) from exc
    for refused in result.refused:
        err.print(
            f"{file}:{refused.line}: {refused.field}: {refused.message}",
            markup=False,
            highlight=False,
        )
    sys.stdout.write(orjson.dumps(result.summary()).decode() + "\n")
    if result.refused:
        raise typer.Exit(EXIT_REFUSED)


def openapi(
    path: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write gateway.json.")],
) -> None:
    """Write the gateway's OpenAPI document (the committed copy is schemas/openapi/gateway.json)."""
    from pipeline.gateway.openapi import openapi_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(openapi_bytes())
    err.print(f"wrote {path}")
