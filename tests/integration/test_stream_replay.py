"""stream == replay: the offline engine is the stream's oracle."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.replay import replay_dir
from pipeline.stream_replay import stream_replay
from pipeline.synth import synthesize, write_world

FIXTURES = Path(__file__).parents[1] / "fixtures" / "replay"

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_stream_equals_replay_on_fixture(name: str) -> None:
    directory = FIXTURES / name
    offline = replay_dir(directory)
    streamed = stream_replay(directory)
    assert offline.findings, "a fixture without findings proves little"
    assert streamed.findings == offline.findings
    assert streamed.errors == offline.errors


def test_stream_equals_replay_on_a_synthesised_world(tmp_path: Path) -> None:
    write_world(synthesize(enterprises=25, days=3, seed=11), tmp_path)
    offline = replay_dir(tmp_path)
    streamed = stream_replay(tmp_path)
    assert len(offline.findings) > 10
    assert streamed.findings == offline.findings
