"""On-call: is the pipeline keeping up, and what is failing (Prometheus, `xbmon_*` metrics).

The store writer's path: rows written and write failures per table (`xbmon_store_*`), its
on-disk spool and back-pressure (`xbmon_spool_*`, `xbmon_consumption_paused`) and the
production-to-stored latency.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel

from dashboards.common import new_dashboard, prom_timeseries, promql

UID: Final = "xbmon-oncall"
TITLE: Final = "xbmon / On-call"


def throughput() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Throughput by topic",
        "Records processed per second, by input topic and outcome.",
        [
            promql(
                "sum by (topic, outcome) (rate(xbmon_events_total[$__rate_interval]))",
                "{{topic}} {{outcome}}",
            )
        ],
        unit="reqps",
    )


def latency() -> cogbuilder.Builder[Panel]:
    bucket = "sum by (le, topic) (rate(xbmon_processing_latency_seconds_bucket[$__rate_interval]))"
    taken = "sum by (le, topic) (rate(xbmon_take_age_seconds_bucket[$__rate_interval]))"
    return prom_timeseries(
        "Processing latency p50 / p99",
        "Broker timestamp to processed, by topic; and to taken into a batch (p99 taken): the "
        "part of the latency spent waiting before the agent starts on a message.",
        [
            promql(f"histogram_quantile(0.5, {bucket})", "p50 {{topic}}", "A"),
            promql(f"histogram_quantile(0.99, {bucket})", "p99 {{topic}}", "B"),
            promql(f"histogram_quantile(0.99, {taken})", "p99 taken {{topic}}", "C"),
        ],
        unit="s",
    )


def consumer_lag() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Consumer lag",
        "Records not yet read by the workers, by input topic (summed over workers).",
        [promql("sum by (topic) (xbmon_consumer_lag_records)", "{{topic}}")],
    )


def deadletters() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Dead letters by reason",
        "Records refused per second, by topic and reason kind.",
        [
            promql(
                "sum by (topic, reason) (rate(xbmon_deadletters_total[$__rate_interval]))",
                "{{topic}} {{reason}}",
            )
        ],
        unit="reqps",
    )


def store_writes() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Store writes and failures",
        "Rows written per table, and failed (retried) writes: failures with no rows mean the "
        "spool (evidence.rows) is growing. Inserts per second: each is a ClickHouse part, so "
        "many small inserts (few rows each) mean merge load; a backlog is gathered into few.",
        [
            promql(
                "sum by (table) (rate(xbmon_store_rows_total[$__rate_interval]))",
                "rows {{table}}",
                "A",
            ),
            promql(
                "sum by (table) (rate(xbmon_store_write_failures_total[$__rate_interval]))",
                "failures {{table}}",
                "B",
            ),
            promql(
                "sum by (table) (rate(xbmon_store_inserts_total[$__rate_interval]))",
                "inserts {{table}}",
                "C",
            ),
        ],
        unit="reqps",
    )


def spool() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Store spool and back-pressure",
        "Batches and MiB on the store writer's on-disk spool (the store failed), retries per "
        "second, and 1 while consumption is paused because the spool is full.",
        [
            promql("sum(xbmon_spool_batches)", "spooled batches", "A"),
            promql("sum(xbmon_spool_bytes) / 1048576", "spooled MiB", "B"),
            promql("sum(rate(xbmon_store_retries_total[$__rate_interval]))", "retries/s", "C"),
            promql("max(xbmon_consumption_paused)", "paused", "D"),
        ],
    )


def stored_latency() -> cogbuilder.Builder[Panel]:
    bucket = "sum by (le, table) (rate(xbmon_stored_latency_seconds_bucket[$__rate_interval]))"
    return prom_timeseries(
        "Production to stored latency p50 / p99",
        "From a record's production to its evidence row in the store, by table: grows while "
        "the store is down and rows wait on the spool (evidence.rows).",
        [
            promql(f"histogram_quantile(0.5, {bucket})", "p50 {{table}}", "A"),
            promql(f"histogram_quantile(0.99, {bucket})", "p99 {{table}}", "B"),
        ],
        unit="s",
    )


def evidence_log() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Evidence log seals",
        "Seal attempts of the evidence log by outcome (failed ones need attention), and the "
        "leaves under the latest signed tree head.",
        [
            promql(
                "sum by (outcome) (increase(xbmon_evidence_seals_total[$__rate_interval]))",
                "{{outcome}}",
                "A",
            ),
            promql("max(xbmon_evidence_log_leaves)", "leaves", "B"),
        ],
    )


def alerts_open() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Alerts open by severity and tier",
        "Open alerts of the last two days the workers hold (see the runbooks).",
        [promql("sum by (severity, tier) (xbmon_alerts_open)", "{{severity}} tier {{tier}}")],
    )


def workers() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Workers ready and partitions",
        "Workers that joined and recovered, and partitions they own.",
        [
            promql("sum(xbmon_worker_ready)", "ready", "A"),
            promql("sum(xbmon_assigned_partitions)", "partitions", "B"),
        ],
    )


def batch_stages() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Worker time by batch stage",
        "Seconds per second each agent spends in each stage of its batches (summed over "
        "workers). evaluate is the rule engine; snapshot and persist write the touched "
        "enterprises' state; publish builds and sends the output; acks is the broker "
        "acknowledging it, overlapped with the next batch; wait is the agent waiting for the "
        "batch before to settle. evaluate + snapshot + publish + wait near 1: saturated.",
        [
            promql(
                "sum by (agent, stage) (rate(xbmon_batch_stage_seconds_sum[$__rate_interval]))",
                "{{agent}} {{stage}}",
            )
        ],
        unit="s",
    )


def state_writes() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "State written",
        "Bytes per second the transfer agent writes to its changelog-backed tables: states, "
        "the day entries of alerts and findings, archived transfer-id chunks. Growing at a "
        "steady input rate means states are growing (and recovery getting slower).",
        [
            promql(
                "sum by (table) (rate(xbmon_state_bytes_written_total[$__rate_interval]))",
                "{{table}}",
            )
        ],
        unit="Bps",
    )


def findings_rate() -> cogbuilder.Builder[Panel]:
    return prom_timeseries(
        "Findings by severity",
        "Findings produced per second, by severity.",
        [
            promql(
                "sum by (severity) (rate(xbmon_findings_total[$__rate_interval]))", "{{severity}}"
            )
        ],
        unit="reqps",
    )


PANELS: Final = [
    throughput,
    latency,
    consumer_lag,
    deadletters,
    store_writes,
    stored_latency,
    spool,
    alerts_open,
    workers,
    batch_stages,
    state_writes,
    findings_rate,
    evidence_log,
]


def dashboard() -> Dashboard:
    board = new_dashboard(UID, TITLE, "Pipeline health for responders.", "now-6h")
    for panel in PANELS:
        board = board.with_panel(panel())
    return board.build()
