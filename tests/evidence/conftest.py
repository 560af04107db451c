"""Evidence-log fixtures: a real chDB store per test, and real findings from the engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import default_rules_config
from pipeline.rules.engine import Engine
from pipeline.rules.findings import EvaluatedFinding
from pipeline.rules.reference import ReferenceIndex
from pipeline.settings import Settings
from pipeline.storage import EvidenceStore, finding_row, open_store
from pipeline.synth import synthesize

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def engine_findings() -> list[EvaluatedFinding]:
    """Findings of a small synthetic world, through the same engine the stream runs."""
    world = synthesize(enterprises=50, days=2, seed=7, violation_rate=1.0)
    reference = ReferenceIndex.build(world.enterprises, world.filings, world.negative_list)
    engine = Engine(reference, default_rules_config())
    for flow in world.flows:
        engine.flow(flow)
    found: list[EvaluatedFinding] = []
    for log in sorted(world.logs, key=lambda log: (log.ts, log.transfer_id)):
        found.extend(engine.transfer(log))
    for closed in engine.close_all():
        found.extend(closed.findings)
    unique = {f.finding.finding_id: f for f in found}
    assert len(unique) >= 40, "the world should give enough findings to prove things about"
    return list(unique.values())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of the embedded mode on DATA_DIR = tmp_path, as `--data-dir tmp_path` sees it."""
    return Settings(data_dir=tmp_path / "embedded")


@pytest.fixture
def store(settings: Settings) -> Iterator[EvidenceStore]:
    opened = open_store(settings)
    opened.ensure_schema()
    try:
        yield opened
    finally:
        opened.close()


StoreFindings = Callable[[EvidenceStore, Sequence[EvaluatedFinding], str], None]


@pytest.fixture
def store_findings() -> StoreFindings:
    """Insert findings as the store writer does: finding rows with a batch token."""

    def insert(store: EvidenceStore, findings: Sequence[EvaluatedFinding], token: str) -> None:
        store.insert("findings", [finding_row(f, inserted_at=NOW) for f in findings], token)

    return insert
