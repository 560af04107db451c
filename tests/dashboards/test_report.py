"""`xbmon report`: the overview as one page, from a store filled by `xbmon dashboards demo`,
opened in headless Chromium (Debian's `chromium`) without console errors, and screenshotted.

The CLI runs in child processes: chDB allows one data directory per process, and this pytest
process may hold another module's.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboards.regulator import PANELS
from dashboards.report import CSP

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)


def xbmon(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (Debian package: chromium)")
    return path


def screenshot(page: Path, png: Path, size: str = "1280,3600") -> list[str]:
    """Load the page headless, save a screenshot; the browser console's lines."""
    done = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--screenshot={png}",
            f"--window-size={size}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("report")
    filled = xbmon(
        "dashboards",
        "demo",
        "--data-dir",
        str(data_dir),
        "--enterprises",
        "40",
        "--days",
        "5",
        "--seed",
        "7",
    )
    assert filled.returncode == 0, filled.stderr
    out = data_dir / "report.html"
    made = xbmon(
        "report",
        "--from",
        "2025-03-03",
        "--to",
        "2025-03-07",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
    )
    assert made.returncode == 0, made.stderr
    return out


def test_the_page_holds_every_overview_panel_and_needs_no_network(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not re.search(r"(?:src|href)\s*=|url\(|@import", page)
    assert ("meta", {"http-equiv": "Content-Security-Policy", "content": CSP}) in parser.tags
    for spec, _ in PANELS:
        assert f'id="{spec.name}"' in page and spec.title.replace("&", "&amp;") in page
    sections = page.split('<section class="panel')[1:]
    charts = [s for s in sections if "<svg" in s]
    assert len(charts) == sum(1 for spec, _ in PANELS if spec.kind == "timeseries")
    assert "No data in this period" not in page  # the world has data for every chart
    assert "<rect" in page and "<table>" in page


@pytest.mark.slow
def test_chromium_loads_the_page_without_console_errors_and_screenshots_it(
    report: Path, tmp_path: Path
) -> None:
    png = tmp_path / "report.png"
    console = screenshot(report, png)
    assert console == [], console
    width, height = png_size(png)
    assert (width, height) == (1280, 3600)
    assert png.stat().st_size > 50_000  # a drawn page, not a blank one


@pytest.mark.slow
def test_the_console_check_catches_errors_and_blocked_fetches(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        f'<html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
        '<body><img src="https://example.invalid/x.png"></body></html>'
    )
    console = screenshot(page, tmp_path / "broken.png", "400,300")
    assert any("Content Security Policy" in line for line in console), console


def test_bad_periods_get_a_clear_error(tmp_path: Path) -> None:
    reversed_ = xbmon(
        "report",
        "--from",
        "2025-03-07",
        "--to",
        "2025-03-01",
        "--out",
        str(tmp_path / "r.html"),
        "--data-dir",
        str(tmp_path),
    )
    assert reversed_.returncode != 0 and "--to must be after --from" in reversed_.stderr
    garbled = xbmon(
        "report",
        "--from",
        "March",
        "--to",
        "2025-03-01",
        "--out",
        str(tmp_path / "r.html"),
        "--data-dir",
        str(tmp_path),
    )
    assert garbled.returncode != 0 and "is not a date" in garbled.stderr
    assert not (tmp_path / "r.html").exists()
