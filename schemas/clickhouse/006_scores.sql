-- Credit, risk and tier history per enterprise, with the indicator contributions behind each
-- score (JSON), so a tier can be explained line by line. A tier change is a row whose
-- previous_tier differs from tier.

CREATE TABLE IF NOT EXISTS {database:Identifier}.scores
(
    enterprise_id LowCardinality(String),
    computed_at DateTime64(6, 'UTC'),
    credit Float64,
    risk Float64,
    tier LowCardinality(String),
    previous_tier LowCardinality(Nullable(String)),
    trigger LowCardinality(String),
    contributions String CODEC(ZSTD(3)),
    config_version LowCardinality(String),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(computed_at)
ORDER BY (enterprise_id, computed_at)
TTL toDateTime(inserted_at) + toIntervalDay({{retention_days}})
SETTINGS non_replicated_deduplication_window = 10000;
