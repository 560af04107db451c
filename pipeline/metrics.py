"""Every Prometheus metric of xbmon, defined once. Labels are bounded: never an enterprise id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS = Counter(
    "xbmon_events_total",
    "Records consumed, by topic and outcome (evaluated, duplicate, invalid, watermark).",
    ["topic", "outcome"],
)
FLOWS = Counter(
    "xbmon_flows_total",
    "Probe flows by attribution outcome (reconciled, unattributed, domestic, ...).",
    ["outcome"],
)
FINDINGS = Counter(
    "xbmon_findings_total", "Findings produced, by rule and severity.", ["rule", "severity"]
)
DEADLETTERS = Counter(
    "xbmon_deadletters_total",
    "Records sent to the dead-letter topic, by source topic and kind of reason.",
    ["topic", "reason"],
)
# Seconds; fine around the 250 ms the latency target sets, so a quantile read from the
# buckets says which side of it a wait falls.
WAIT_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1,
    2.5,
    5,
    10,
    30,
)
PROCESSING_LATENCY = Histogram(
    "xbmon_processing_latency_seconds",
    "From a message's broker timestamp to its batch being processed and stored.",
    ["topic"],
    buckets=WAIT_BUCKETS,
)
TAKE_AGE = Histogram(
    "xbmon_take_age_seconds",
    "From a message's broker timestamp to its agent taking it into a batch: the wait before "
    "processing (fetch, Faust's delivery, the agent's previous batch), by topic.",
    ["topic"],
    buckets=WAIT_BUCKETS,
)
STORED_LATENCY = Histogram(
    "xbmon_stored_latency_seconds",
    "From a record's production (its message's timestamp) to its evidence row being stored.",
    ["table"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BATCH_SIZE = Histogram(
    "xbmon_batch_messages",
    "Messages per processed batch.",
    ["agent"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500),
)
GC_SECONDS = Histogram(
    "xbmon_gc_seconds",
    "Pauses of the cyclic garbage collector, by generation (0 young, 2 everything): the "
    "event loop stands still meanwhile. The worker collects between batches.",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
BATCH_STAGE_SECONDS = Histogram(
    "xbmon_batch_stage_seconds",
    "Wall time of an agent's batch by stage: evaluate (the engine), snapshot (encoding the "
    "touched states), publish (building and sending its output), acks (the broker "
    "acknowledging it, while the next batch is evaluated), persist (the state table "
    "writes), wait (the agent waiting for the batch before it to settle). Where a "
    "saturated worker's time goes.",
    ["agent", "stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STORE_ROWS = Counter("xbmon_store_rows_total", "Rows written to the evidence store.", ["table"])
STORE_INSERTS = Counter(
    "xbmon_store_inserts_total",
    "Inserts into the evidence store (each a new part in ClickHouse: fewer, larger is cheaper).",
    ["table"],
)
STORE_FAILURES = Counter(
    "xbmon_store_write_failures_total", "Failed evidence-store writes (retried).", ["table"]
)
SPOOL_BATCHES = Gauge("xbmon_spool_batches", "Batches held in the store writer's on-disk spool.")
SPOOL_BYTES = Gauge("xbmon_spool_bytes", "Bytes held in the store writer's on-disk spool.")
STORE_RETRIES = Counter(
    "xbmon_store_retries_total",
    "Store inserts that failed with a retryable error (the batch went to or stayed in the spool).",
)
CONSUMPTION_PAUSED = Gauge(
    "xbmon_consumption_paused", "1 while the store writer has paused consumption (spool full)."
)
PAUSES = Counter("xbmon_pauses_total", "Times the store writer paused consumption (spool full).")
OPEN_WINDOWS = Gauge("xbmon_open_windows", "Reconciliation windows not yet closed.")
STATE_BYTES = Counter(
    "xbmon_state_bytes_written_total",
    "Bytes written to the transfer agent's changelog-backed tables (states and their entries).",
    ["table"],
)
REFERENCE_RECORDS = Gauge(
    "xbmon_reference_records", "Reference records held by this worker.", ["kind"]
)
WORKER_READY = Gauge("xbmon_worker_ready", "1 once partitions are assigned and tables recovered.")
ASSIGNED_PARTITIONS = Gauge(
    "xbmon_assigned_partitions", "Partitions of transfer.logs this worker owns."
)
REFERENCE_UPDATES = Counter(
    "xbmon_reference_updates_total", "Reference records applied (upserts and removals).", ["kind"]
)
AGGREGATES_SENT = Counter(
    "xbmon_flow_aggregates_sent_total", "Attributed flow aggregates re-keyed by enterprise."
)
CONSUMER_LAG = Gauge(
    "xbmon_consumer_lag_records",
    "Records of an input topic fetched by the broker's high watermark but not yet consumed by "
    "this worker (its assigned partitions).",
    ["topic"],
)
ALERTS_RAISED = Counter(
    "xbmon_alerts_raised_total",
    "Findings turned into alerts, by alert severity (after the tier policy), tier and rule.",
    ["severity", "tier", "rule"],
)
ALERTS_OPEN = Gauge(
    "xbmon_alerts_open",
    "Alerts of the last two days held by this worker, by alert severity and tier "
    "(responders' acknowledgements live in the store).",
    ["severity", "tier"],
)
ENTERPRISES = Gauge("xbmon_enterprises", "Scored enterprises this worker owns, by tier.", ["tier"])
TIER_CHANGES = Counter(
    "xbmon_tier_changes_total", "Enterprises moving tier.", ["from_tier", "to_tier"]
)
WATERMARK = Gauge(
    "xbmon_watermark_timestamp_seconds", "Event-time watermark of the transfer stream."
)

EVIDENCE_LOG_LEAVES = Gauge(
    "xbmon_evidence_log_leaves", "Leaves of the evidence log under its latest signed tree head."
)
EVIDENCE_SEALS = Counter(
    "xbmon_evidence_seals_total",
    "Seal attempts of the evidence log, by outcome (sealed, idle: nothing new, failed).",
    ["outcome"],
)


def reason_kind(reason: str) -> str:
    """A bounded label for a dead-letter reason (the full reason travels with the record)."""
    if reason.startswith("invalid JSON"):
        return "invalid_json"
    if reason.startswith("empty message"):
        return "empty"
    if "exceeds the" in reason:
        return "oversized"
    if reason.startswith("record: expected a JSON object"):
        return "not_object"
    if reason.startswith("invalid flow aggregate"):
        return "internal_format"
    return "schema"


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on `host:port` (port 0 disables)."""
    if port:
        start_http_server(port, addr=host)


# --- the enterprise gateway (its own process; served on its /metrics) ---------------------------
GATEWAY_REQUESTS = Counter(
    "xbmon_gateway_requests_total",
    "Gateway requests by endpoint and HTTP status.",
    ["endpoint", "status"],
)
GATEWAY_RECORDS = Counter(
    "xbmon_gateway_records_total",
    "Transfer-log records pushed, by outcome (accepted, duplicate, refused).",
    ["outcome"],
)
GATEWAY_LATENCY = Histogram(
    "xbmon_gateway_request_duration_seconds",
    "From request to answer, by endpoint (pushes include the broker's acknowledgement).",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
