-- Alerts for on-call, one per (enterprise, rule, Beijing day): written by the stream (count,
-- severity after the tier's policy, route). Responders' acknowledgements and resolutions are
-- appended to alert_actions; the effective status is derived when reading (queries/alerts.sql),
-- so the stream never overwrites a responder's action.

CREATE TABLE IF NOT EXISTS {database:Identifier}.alerts
(
    alert_id String,
    enterprise_id LowCardinality(String),
    rule_id LowCardinality(String),
    day Date,
    tier LowCardinality(String),
    severity LowCardinality(String),
    route LowCardinality(String),
    count UInt32,
    first_ts DateTime64(6, 'UTC'),
    last_ts DateTime64(6, 'UTC'),
    finding_ids Array(String),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(day)
ORDER BY alert_id
TTL toDateTime(updated_at) + toIntervalDay({{retention_days}})
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database:Identifier}.alert_actions
(
    alert_id String,
    status LowCardinality(String),
    actor String,
    note Nullable(String),
    at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (alert_id, at)
TTL toDateTime(at) + toIntervalDay({{retention_days}});
