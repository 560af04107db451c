"""`xbmon evidence ...`: seal, show, verify and audit the tamper-evident evidence log.

Like `xbmon alerts`, these open the embedded store under DATA_DIR/embedded (chDB: run them
while the stack is stopped), or the ClickHouse server the settings name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from pipeline.settings import Settings
    from pipeline.storage import EvidenceStore

evidence_app = typer.Typer(
    no_args_is_help=True, help="The tamper-evident evidence log (RFC 9162 Merkle, Ed25519)."
)
err = Console(stderr=True, soft_wrap=True)

DataDirOption = Annotated[
    Path, typer.Option(help="Data directory of the embedded mode (as given to `xbmon up`).")
]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        exists=True,
        dir_okay=False,
        help="Check tree heads with this PEM public key (default: the log's own key).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of text.")]
EXIT_FAILED = 1


def _settings(data_dir: Path) -> Settings:
    from pipeline.settings import Settings

    return Settings(data_dir=data_dir / "embedded")


@contextmanager
def _open_store(settings: Settings) -> Iterator[EvidenceStore]:
    """The store, schema applied; a store failure is a clear error and exit 1, no traceback."""
    from pipeline.storage import StoreError, open_store

    try:
        with open_store(settings) as store:
            store.ensure_schema()
            yield store
    except StoreError as exc:
        err.print(f"[red]error:[/] the evidence store: {exc}")
        raise typer.Exit(EXIT_FAILED) from exc


def _public_key(settings: Settings, path: Path | None) -> Ed25519PublicKey:
    from pipeline.evidence_log.signing import SigningKeyError, load_public_key

    try:
        return load_public_key(settings, path)
    except SigningKeyError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc


def _write_json(value: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@evidence_app.command("seal")
def evidence_seal(data_dir: DataDirOption = Path(".data")) -> None:
    """Append every stored finding not yet in the log and sign a new tree head."""
    from datetime import UTC, datetime

    from pipeline.evidence_log.merkle import ProofError
    from pipeline.evidence_log.sequencer import SealError, seal
    from pipeline.evidence_log.signing import SigningKeyError, load_signing_key

    settings = _settings(data_dir)
    try:
        key = load_signing_key(settings, create=True)
        with _open_store(settings) as store:
            result = seal(store, key, settings.evidence.origin, datetime.now(UTC))
    except (SealError, SigningKeyError, ProofError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    for problem in result.skipped:
        err.print(f"[yellow]not sealed:[/] {problem}")
    if result.head is None:
        err.print("nothing new to seal")
    else:
        err.print(
            f"appended {result.appended} leaves; tree size {result.head.tree_size}, "
            f"root {result.head.root_hash.hex()}"
        )
    if result.skipped:
        raise typer.Exit(EXIT_FAILED)


@evidence_app.command("show")
def evidence_show(
    finding_id: Annotated[str, typer.Argument(help="The finding's id.")],
    as_json: JsonOption = False,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """The finding's bundle, its leaf index and its inclusion proof under the latest head."""
    import orjson

    from pipeline.evidence_log.verify import ProofUnavailableError, proof_document

    try:
        with _open_store(_settings(data_dir)) as store:
            document = proof_document(store, finding_id)
    except ProofUnavailableError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    if as_json:
        _write_json(document)
        return
    out = Console(soft_wrap=True)
    finding, leaf, head = document["finding"], document["leaf"], document["tree_head"]
    out.print(f"[bold]finding[/] {finding['finding_id']} ({finding['rule_id']})")
    out.print(f"[bold]evidence_hash[/] {finding['evidence_hash']}")
    out.print("[bold]bundle[/]")
    out.print_json(orjson.dumps(orjson.loads(document["bundle"])).decode())
    out.print(f"[bold]leaf[/] index {leaf['index']} hash {leaf['hash']}")
    out.print(f"[bold]inclusion proof[/] ({len(document['inclusion_proof'])} hashes)")
    for node in document["inclusion_proof"]:
        out.print(f"  {node}")
    out.print(
        f"[bold]tree head[/] size {head['tree_size']} root {head['root_hash']} "
        f"at {head['timestamp']}, key {head['key_id']}"
    )
    out.print(f"[bold]signature[/] {head['signature']}")


def _report_checks(document: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    from pipeline.evidence_log.verify import check_document

    checks = check_document(document, public_key)
    for check in checks:
        mark = "[green]ok[/]" if check.ok else "[red]FAILED[/]"
        err.print(f"{mark} {check.step}: {check.detail}", highlight=False)
    if len(checks) < 4 or not all(c.ok for c in checks):
        raise typer.Exit(EXIT_FAILED)
    err.print("[green]verified:[/] bundle -> leaf -> inclusion proof -> signed tree head")


@evidence_app.command("verify")
def evidence_verify(
    finding_id: Annotated[str, typer.Argument(help="The finding's id.")],
    public_key: PublicKeyOption = None,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """Check bundle -> leaf -> inclusion proof -> signed tree head; exit 0 only if all hold."""
    from pipeline.evidence_log.verify import ProofUnavailableError, proof_document

    settings = _settings(data_dir)
    key = _public_key(settings, public_key)
    try:
        with _open_store(settings) as store:
            document = proof_document(store, finding_id)
    except ProofUnavailableError as exc:
        err.print(f"[red]FAILED[/] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    _report_checks(document, key)


@evidence_app.command("verify-proof")
def evidence_verify_proof(
    document: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="`xbmon evidence show --json`.")
    ],
    public_key: Annotated[
        Path, typer.Option("--public-key", exists=True, dir_okay=False, help="The log's key.")
    ],
) -> None:
    """Check a proof document offline, with nothing but the log's public key."""
    import orjson

    key = _public_key(_settings(Path(".data")), public_key)
    try:
        parsed = orjson.loads(document.read_bytes())
    except orjson.JSONDecodeError as exc:
        err.print(f"[red]FAILED[/] {document}: not JSON ({exc})")
        raise typer.Exit(EXIT_FAILED) from exc
    _report_checks(parsed if isinstance(parsed, dict) else {}, key)


@evidence_app.command("head")
def evidence_head(data_dir: DataDirOption = Path(".data")) -> None:
    """The latest signed tree head, as JSON: keep it to check later audits against it."""
    from pipeline.evidence_log.log_store import fetch_latest_head

    with _open_store(_settings(data_dir)) as store:
        head = fetch_latest_head(store)
    if head is None:
        err.print("[red]error:[/] the log has no signed tree head yet (`xbmon evidence seal`)")
        raise typer.Exit(EXIT_FAILED)
    _write_json(head.as_json())


def _trusted_head(path: Path | None) -> Any:
    """A head kept from earlier: `xbmon evidence head` output or a `show --json` document."""
    import orjson

    from pipeline.evidence_log.signing import TreeHead

    if path is None:
        return None
    try:
        data = orjson.loads(path.read_bytes())
        return TreeHead.from_json(data.get("tree_head", data))
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        err.print(f"[red]error:[/] {path}: not a tree head ({exc})")
        raise typer.Exit(EXIT_FAILED) from exc


@evidence_app.command("audit")
def evidence_audit(
    public_key: PublicKeyOption = None,
    trusted_head: Annotated[
        Path | None,
        typer.Option(
            "--trusted-head",
            exists=True,
            dir_okay=False,
            help="A head kept from earlier (`xbmon evidence head`): the log must still extend it.",
        ),
    ] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = Path(".data"),
) -> None:
    """Check the whole log against the stored findings and every signed tree head."""
    from datetime import UTC, datetime

    from pipeline.evidence_log.audit import audit_log

    settings = _settings(data_dir)
    key = _public_key(settings, public_key)
    trusted = _trusted_head(trusted_head)
    with _open_store(settings) as store:
        report = audit_log(
            store, key, datetime.now(UTC), settings.clickhouse.retention_days, trusted
        )
    if as_json:
        _write_json({**report.__dict__, "ok": report.ok})
    else:
        for problem in report.problems:
            err.print(f"[red]FAILED[/] {problem}", highlight=False)
        err.print(
            f"{report.leaves} leaves, {report.findings} findings, {report.tree_heads} tree heads "
            f"(latest: {report.tree_size} leaves), {report.expired} expired by retention"
        )
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
    if not as_json:
        err.print("[green]the log is intact[/]")


@evidence_app.command("public-key")
def evidence_public_key(data_dir: DataDirOption = Path(".data")) -> None:
    """Print the log's public key (PEM) for regulators to verify tree heads independently."""
    from pipeline.evidence_log.signing import key_id, public_key_pem

    key = _public_key(_settings(data_dir), None)
    sys.stdout.write(public_key_pem(key).decode())
    err.print(f"key id {key_id(key)}")
