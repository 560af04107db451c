"""`xbmon bench` end to end, small: every figure present, measured, and consistent."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import orjson
import pytest

from pipeline.bench import (
    bucket_quantile,
    cpu_seconds,
    crossing,
    drain_rate,
    per_record_us,
    prepared,
    timeline,
    wait_bounds_ms,
)
from pipeline.metrics_client import Samples, histogram_buckets
from pipeline.synth import synthesize
from pipeline.topics import TRANSFER_LOGS
from schemas.models import EgressFlow, TransferLog

KEYS = ("flows_rps", "logs_rps", "baseline_rps", "ratio_flows", "ratio_logs", "p50_ms", "p99_ms")


@pytest.mark.slow
def test_bench_prints_its_figures_as_the_last_json_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "pipeline.cli", "bench",
            "--duration", "3", "--flows", "4000", "--logs", "3000",
            "--records-per-message", "50", "--store-rows", "5000",
            "--matching-filings", "300,3000", "--latency-at", "500",
            "--data-dir", str(tmp_path / "bench"),
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = orjson.loads(done.stdout.strip().splitlines()[-1])
    for key in (*KEYS, "rss_mb"):
        assert summary[key] > 0, (key, summary)
    assert summary["ratio_flows"] == pytest.approx(
        summary["flows_rps"] / summary["baseline_flows_rps"], abs=0.002
    )
    assert summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["latency_samples"] > 0 and summary["store_rows_per_s"] > 0
    assert summary["store_columns_rows_per_s"] > 0
    assert set(summary["matching_us"]) == {"300", "3000"}
    at = summary["latency_at"]["500"]
    assert 0 < at["p50_ms"] <= at["p99_ms"] <= at["max_ms"]
    for phase in ("flows", "logs"):  # where each record's CPU went, and the writer's batching
        assert set(summary["cpu_us"][phase]) == {"worker", "writer", "broker"}
        assert all(us > 0 for us in summary["cpu_us"][phase].values()), summary["cpu_us"]
        assert summary["rows_per_insert"][phase] >= 1
        assert isinstance(summary["producer_bound"][phase], bool)
    stages = summary["stage_us"]  # where the worker's batches spent their time
    assert {"transfers.evaluate", "transfers.acks", "transfers.persist"} <= set(stages["logs"])
    assert {"flows.evaluate", "flows.publish"} <= set(stages["flows"])
    assert stages["logs"]["transfers.evaluate"] > 0 and stages["flows"]["flows.evaluate"] > 0
    assert stages["half"]["transfers.evaluate"] > 0
    assert "gc.0" in stages["logs"]  # the worker's GC pauses, reported with its stages
    waits = summary["half_waits_ms"]  # a log message waits for its take before its acks
    assert 0 < waits["take_p50"] <= waits["acked_p50"] and waits["acked_p50"] <= waits["acked_p99"]
    assert "xbmon bench" in done.stdout  # the human table precedes the JSON line


@pytest.mark.slow
def test_soak_samples_memory_and_lag_into_a_csv(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "pipeline.cli", "bench", "--soak", "8", "--rate", "300",
            "--sample-every", "2", "--data-dir", str(tmp_path / "soak"),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = orjson.loads(done.stdout.strip().splitlines()[-1])
    lines = Path(summary["csv"]).read_text().splitlines()
    assert lines[0].startswith("elapsed_s,worker_rss_mb") and len(lines) - 1 == summary["samples"]
    assert summary["samples"] >= 3 and summary["worker_rss_max_mb"] > 0


def test_cpu_seconds_reads_this_process_and_zero_for_none() -> None:
    began = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - began == pytest.approx(0.2, abs=0.05)
    assert cpu_seconds(None) == 0.0


def test_per_record_us_divides_each_counters_growth_by_the_records() -> None:
    before = {"transfers.evaluate": 1.0}
    after = {"transfers.evaluate": 1.5, "transfers.publish": 0.25}  # new since: from zero
    assert per_record_us(before, after, 1000) == {
        "transfers.evaluate": 500.0,
        "transfers.publish": 250.0,
    }
    assert per_record_us({}, {"x": 1.0}, 0) == {"x": 1e6}  # no records: no division by zero


def test_drain_rate_interpolates_the_10_and_90_percent_crossings() -> None:
    # Progress of 100 records/s, sampled every 0.1 s: 10 % and 90 % of 100 records are 0.8 s
    # apart, whatever the polls' phase.
    began = time.monotonic()
    rate, at_90 = drain_rate(lambda: min(100.0, 100 * (time.monotonic() - began)), 100, 30)
    assert rate == pytest.approx(100, rel=0.2)
    assert at_90 - began == pytest.approx(0.9, abs=0.15)
    marks = [(0.0, 0.0), (1.0, 0.0), (1.1, 95.0), (2.0, 100.0)]  # a jump past both marks
    assert crossing(marks, 10) == pytest.approx(1.0 + 0.1 * 10 / 95)
    assert crossing(marks, 90) == pytest.approx(1.0 + 0.1 * 90 / 95)
    with pytest.raises(ValueError):
        crossing(marks, 101)


def test_a_paced_phase_gets_its_records_encoded_up_front_then_as_drawn() -> None:
    world = synthesize(enterprises=10, days=2, seed=3)
    in_order = [log.transfer_id for log in islice(timeline(world, TransferLog), 8)]
    source = timeline(world, TransferLog)
    load = prepared(source, 5)
    # The five are drawn and encoded now, before the phase starts: the source is past them.
    assert next(source).transfer_id == in_order[5]
    sent = [next(load) for _ in range(7)]
    for key, value in sent:  # as a producer sends them: by enterprise, the record's JSON
        assert key == (TRANSFER_LOGS.name, orjson.loads(value)["enterprise_id"])
    # The prepared ones first, in order; then the load goes on drawing from the source.
    ids = [orjson.loads(value)["transfer_id"] for _, value in sent]
    assert ids == in_order[:5] + in_order[6:8]


def test_a_kinds_timeline_holds_only_that_kind_in_event_time_order() -> None:
    world = synthesize(enterprises=10, days=2, seed=3)
    count = len(world.flows)
    flows = list(islice(timeline(world, EgressFlow, start_loop=1), count + 1))
    assert all(isinstance(flow, EgressFlow) for flow in flows)
    starts = [flow.ts_start for flow in flows[:count]]
    assert starts == sorted(starts)
    assert all(flow.flow_id.endswith("~1") for flow in flows[:count])  # loop 1: fresh ids
    assert flows[count].flow_id.endswith("~2")  # then the next loop


def test_wait_bounds_read_the_quantiles_buckets_between_two_readings() -> None:
    def samples(counts: dict[str, float], topic: str = TRANSFER_LOGS.name) -> Samples:
        return {
            ("xbmon_take_age_seconds_bucket", (("le", le), ("topic", topic))): count
            for le, count in counts.items()
        }

    before = samples({"0.1": 100.0, "0.25": 100.0, "0.5": 100.0, "+Inf": 100.0})
    # Since: 60 more within 0.1 s, 39 between 0.25 and 0.5 s, 1 beyond.
    after = samples({"0.1": 160.0, "0.25": 160.0, "0.5": 199.0, "+Inf": 200.0})
    after |= samples({"0.1": 0.0, "+Inf": 50.0}, topic="egress.flows")  # not a log topic
    take_before = histogram_buckets(before, "xbmon_take_age_seconds", topic=TRANSFER_LOGS.name)
    take_after = histogram_buckets(after, "xbmon_take_age_seconds", topic=TRANSFER_LOGS.name)
    assert take_after == {0.1: 160.0, 0.25: 160.0, 0.5: 199.0, math.inf: 200.0}
    assert bucket_quantile(take_before, take_after, 0.5) == 0.1
    assert bucket_quantile(take_before, take_after, 0.99) == 0.5
    assert bucket_quantile(take_after, take_after, 0.5) is None  # nothing observed since
    bounds = wait_bounds_ms({"take": take_before}, {"take": take_after})
    assert bounds == {"take_p50": 100.0, "take_p99": 500.0}
