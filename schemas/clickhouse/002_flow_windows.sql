-- Declared vs observed egress per enterprise, destination country and window
-- (pipeline.rules.reconcile.WindowAggregate). A window closed again (late data) replaces the
-- earlier row: the version is closed_at. Retention counts from the insert.

CREATE TABLE IF NOT EXISTS {database:Identifier}.flow_windows
(
    enterprise_id LowCardinality(String),
    country LowCardinality(String),
    window_start DateTime64(6, 'UTC'),
    declared_bytes UInt64,
    declared_logs UInt64,
    declared_categories Array(LowCardinality(String)),
    observed_bytes UInt64,
    observed_flows UInt64,
    observed_dlp Array(LowCardinality(String)),
    closed_at DateTime64(6, 'UTC'),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(closed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (enterprise_id, country, window_start)
TTL toDateTime(inserted_at) + toIntervalDay({{retention_days}})
SETTINGS non_replicated_deduplication_window = 10000;
