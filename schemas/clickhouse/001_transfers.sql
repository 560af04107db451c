-- Every declared transfer (TransferLog) with the decision taken on it and where it came from.
-- Natural key: (enterprise_id, transfer_id), the contract's idempotency key. A redelivered log
-- has the same ts, so its copies share a partition and collapse at merge (read FINAL).
-- Retention counts from ingestion, so replayed or late history is never dropped early.

CREATE TABLE IF NOT EXISTS {database:Identifier}.transfers
(
    transfer_id String,
    enterprise_id LowCardinality(String),
    ts DateTime64(6, 'UTC'),
    recipient String,
    country LowCardinality(String),
    categories Array(LowCardinality(String)),
    subjects UInt64,
    sensitive_subjects UInt64,
    records UInt64,
    bytes UInt64,
    purpose LowCardinality(String),
    legal_basis LowCardinality(String),
    filing_ref Nullable(String),
    dst_hosts Array(String),
    received_at Nullable(DateTime64(6, 'UTC')),
    required_path LowCardinality(Nullable(String)),
    source_topic LowCardinality(String),
    source_partition UInt32,
    source_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (enterprise_id, transfer_id)
TTL toDateTime(ingested_at) + toIntervalDay({{retention_days}})
SETTINGS non_replicated_deduplication_window = 10000;
