"""Offline replay: the contract's `xbmon replay DIR`, with no broker and no database.

Reads the replay layout, validates every line (invalid ones are reported with file and line
and skipped), runs the engine in event-time order, closes windows at end of input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from pipeline.config import RulesConfig, default_rules_config
from pipeline.rules.engine import CountryResolver, Engine
from pipeline.rules.reference import ReferenceIndex
from schemas.errors import describe_error
from schemas.models import EgressFlow, Enterprise, Filing, Finding, NegativeListEntry, TransferLog

M = TypeVar("M", bound=BaseModel)

FILES: dict[str, type[BaseModel]] = {
    "enterprises.jsonl": Enterprise,
    "filings.jsonl": Filing,
    "negative_list.jsonl": NegativeListEntry,
    "transfer_logs.jsonl": TransferLog,
    "flows.jsonl": EgressFlow,
}
OPTIONAL_FILES = frozenset({"flows.jsonl"})


@dataclass(frozen=True)
class ReplayResult:
    findings: list[Finding]
    errors: list[str]  # "file:line: field: message"


def read_jsonl(path: Path, model: type[M], errors: list[str]) -> list[M]:
    """Valid records of a JSON-lines file; each invalid line appends `file:line: reason`."""
    records: list[M] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                errors.append(f"{path.name}:{number}: invalid JSON: {exc}")
                continue
            if not isinstance(data, dict):
                errors.append(f"{path.name}:{number}: expected a JSON object")
                continue
            try:
                records.append(model.model_validate(data))
            except ValidationError as exc:
                errors.append(f"{path.name}:{number}: {describe_error(exc)}")
    return records


def replay_records(
    enterprises: Iterable[Enterprise],
    filings: Iterable[Filing],
    negative_list: Iterable[NegativeListEntry],
    logs: Iterable[TransferLog],
    flows: Iterable[EgressFlow] = (),
    config: RulesConfig | None = None,
    resolve_country: CountryResolver | None = None,
) -> list[Finding]:
    """Run the engine over whole inputs; findings sorted by `ts`, then `rule_id`."""
    config = config or default_rules_config()
    reference = ReferenceIndex.build(list(enterprises), list(filings), list(negative_list))
    if resolve_country is None:
        from pipeline.geo import GeoResolver

        resolve_country = GeoResolver().country
    engine = Engine(reference, config, resolve_country)
    for flow in flows:
        engine.flow(flow)
    findings = []
    for log in _event_order(logs):
        findings.extend(engine.transfer(log))
    for closed in engine.close_all():
        findings.extend(closed.findings)
    return sort_findings(f.finding for f in findings)


def _event_order(logs: Iterable[TransferLog]) -> Iterator[TransferLog]:
    """Event-time order, ties by `transfer_id`, then input order (stable sort)."""
    return iter(sorted(logs, key=lambda log: (log.ts, log.transfer_id)))


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (f.ts, f.rule_id, f.enterprise_id, f.transfer_id or "", f.finding_id),
    )


def load_dir(directory: Path) -> tuple[dict[str, list[BaseModel]], list[str]]:
    """The valid records of each file of the replay layout, and the invalid lines' errors."""
    errors: list[str] = []
    loaded: dict[str, list[BaseModel]] = {}
    for name, model in FILES.items():
        path = directory / name
        if not path.exists():
            if name not in OPTIONAL_FILES:
                raise FileNotFoundError(f"{path} is missing")
            loaded[name] = []
            continue
        loaded[name] = list(read_jsonl(path, model, errors))
    return loaded, errors


def replay_dir(directory: Path, config: RulesConfig | None = None) -> ReplayResult:
    """Replay the files of `directory` (the contract's layout)."""
    loaded, errors = load_dir(directory)
    findings = replay_records(
        enterprises=_typed(loaded["enterprises.jsonl"], Enterprise),
        filings=_typed(loaded["filings.jsonl"], Filing),
        negative_list=_typed(loaded["negative_list.jsonl"], NegativeListEntry),
        logs=_typed(loaded["transfer_logs.jsonl"], TransferLog),
        flows=_typed(loaded["flows.jsonl"], EgressFlow),
        config=config,
    )
    return ReplayResult(findings=findings, errors=errors)


def _typed(records: list[BaseModel], model: type[M]) -> list[M]:
    return [r for r in records if isinstance(r, model)]
