"""Every PromQL expression of the dashboards, checked by real Prometheus tooling.

All of them: `promtool check rules` on a generated rules file that records each expression
(with Grafana's `$__rate_interval` replaced as Grafana would), and every metric they read is
defined in pipeline/metrics.py with the labels they use. A sample: evaluated by a real
Prometheus server (Debian's `prometheus`) scraping a real worker of the embedded stack that
has processed a synthetic world's traffic, each returning series.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from pipeline import metrics as _metrics  # noqa: F401  (registers the xbmon_* metrics)
from pipeline.broker import free_port
from pipeline.embedded import Stack, wait_until
from pipeline.synth import synthesize
from pipeline.topics import TRANSFER_LOGS

ROOT = Path(__file__).resolve().parents[2]
JSON_DIR = ROOT / "dashboards" / "json"
RATE_INTERVAL = "30s"  # Grafana: max(4 x scrape interval, $__interval); scrapes are 1 s here


def prometheus_targets() -> list[tuple[str, str]]:
    found = []
    for path in sorted(JSON_DIR.glob("*.json")):
        for panel in json.loads(path.read_text()).get("panels", []):
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") == "prometheus":
                    found.append((f"{panel['title']} {target['refId']}", target["expr"]))
    return found


TARGETS = prometheus_targets()


def grafana_expand(expr: str) -> str:
    expanded = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "15s")
    assert "$" not in expanded, f"unexpanded variable in {expr}"
    return expanded


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package: prometheus)")
    return path


def test_the_on_call_dashboard_has_prometheus_queries() -> None:
    titles = {title.rsplit(" ", 1)[0] for title, _ in TARGETS}
    assert {
        "Throughput by topic",
        "Processing latency p50 / p99",
        "Consumer lag",
        "Dead letters by reason",
        "Store writes and failures",
        "Alerts open by severity and tier",
    } <= titles


def test_promtool_accepts_every_expression(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "xbmon-dashboards",
                "rules": [
                    {"record": f"xbmon_dashboard:query_{i}", "expr": grafana_expand(expr)}
                    for i, (_, expr) in enumerate(TARGETS)
                ],
            }
        ]
    }
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(TARGETS)} rules found" in done.stdout + done.stderr


def test_promtool_rejects_a_broken_expression(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    broken = {"record": "x:y", "expr": "sum by (topic (rate(xbmon_events_total[1m]))"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [broken]}]}))
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0


def defined_metrics() -> dict[str, set[str]]:
    """Sample names exported by pipeline/metrics.py -> their label names."""
    names: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        if not family.name.startswith("xbmon_"):
            continue
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
        labels = set(getattr(family, "_labelnames", ()))
        for suffix in ("", "_total", "_bucket", "_sum", "_count"):
            names.setdefault(family.name + suffix, set()).update(labels)
    for collector in list(REGISTRY._collector_to_names):  # labelled metrics with no child yet
        described = getattr(collector, "_labelnames", None)
        if described is None:
            continue
        for name in REGISTRY._collector_to_names[collector]:
            names.setdefault(name, set()).update(described)
            if name.endswith("_bucket"):
                names[name].add("le")
    return names


@pytest.mark.parametrize(("title", "expr"), TARGETS, ids=[t for t, _ in TARGETS])
def test_expressions_read_defined_metrics_and_labels(title: str, expr: str) -> None:
    defined = defined_metrics()
    used = re.findall(r"\b(xbmon_[a-z_]+)\b", expr)
    assert used, title
    labels = set()
    for clause in re.findall(r"by \(([^)]*)\)", expr):
        labels |= {label.strip() for label in clause.split(",") if label.strip()}
    for name in used:
        assert name in defined, f"{title}: {name} is not defined in pipeline/metrics.py"
        assert labels <= defined[name] | {"le"}, f"{title}: {labels - defined[name]} on {name}"


# -- a real Prometheus scraping a real worker -----------------------------------------------

SAMPLE = (
    "Throughput by topic A",
    "Processing latency p50 / p99 B",
    "Consumer lag A",
    "Dead letters by reason A",
    "Alerts open by severity and tier A",
    "Findings by severity A",
)


def ready(port: int, server: subprocess.Popen[bytes]) -> bool:
    if server.poll() is not None:
        raise RuntimeError(f"Prometheus exited with {server.returncode}; see prometheus.log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:  # not listening yet (URLError is an OSError)
        return False


def query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.fixture
def prometheus_on_worker(tmp_path: Path) -> Iterator[tuple[int, Stack]]:
    binary = tool("prometheus")
    with Stack(tmp_path / "stack", partitions=2, store=False) as stack:
        stack.start(workers=1)
        [worker] = stack.live_workers()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "xbmon-worker",
                            "static_configs": [{"targets": [f"127.0.0.1:{worker.metrics_port}"]}],
                        }
                    ],
                }
            )
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # Queries before Prometheus listens are refused, not retried: wait for it first.
            wait_until(lambda: ready(port, server), 60, "Prometheus to be ready")
            yield port, stack
        finally:
            server.terminate()
            server.wait(20)
            log.close()


@pytest.mark.slow
def test_a_real_prometheus_evaluates_the_dashboards_on_a_real_worker(
    prometheus_on_worker: tuple[int, Stack],
) -> None:
    port, stack = prometheus_on_worker
    world = synthesize(enterprises=12, days=2, seed=5)
    stack.publish_reference([*world.enterprises, *world.filings, *world.negative_list])
    # Traffic only once Prometheus scrapes the worker, in two parts a few scrapes apart, so
    # the counters grow between samples (rate() needs two).
    wait_until(lambda: bool(query(port, 'up{job="xbmon-worker"} == 1')), 60, "the first scrape")
    messages = [
        (TRANSFER_LOGS.name, log.enterprise_id.encode(), log.model_dump_json().encode(), None)
        for log in world.logs
    ]
    half = len(messages) // 2
    sent = stack.produce(messages[:half])
    time.sleep(3)
    sent += stack.produce([*messages[half:], (TRANSFER_LOGS.name, b"broken", b"{not json", None)])
    wait_until(
        lambda: stack.metric("xbmon_events_total", topic=TRANSFER_LOGS.name) >= sent,
        60,
        "the worker to process the traffic",
    )
    by_title = dict(TARGETS)
    pending = {title: grafana_expand(by_title[title]) for title in SAMPLE}
    results: dict[str, list[dict[str, Any]]] = {}

    def evaluated() -> bool:
        for title, expr in list(pending.items()):
            found = query(port, expr)
            if any(math.isfinite(float(series["value"][1])) for series in found):
                results[title] = found
                del pending[title]
        return not pending

    wait_until(evaluated, 60, f"Prometheus to answer {sorted(pending)}")
    topics = {series["metric"].get("topic") for series in results["Throughput by topic A"]}
    assert TRANSFER_LOGS.name in topics
    reasons = {s["metric"]["reason"] for s in results["Dead letters by reason A"]}
    assert "invalid_json" in reasons
    p99 = {
        s["metric"]["topic"]: float(s["value"][1])
        for s in results["Processing latency p50 / p99 B"]
    }
    assert 0 < p99[TRANSFER_LOGS.name] < 60  # seconds from the broker to processed
