-- Records that failed validation, with their raw bytes and the reason.
-- Natural key: (source_topic, source_partition, source_offset, index_in_batch): a redelivered
-- message dead-letters the same records again. raw is the record's text when it is UTF-8,
-- otherwise base64 of its bytes (raw_encoding says which).

CREATE TABLE IF NOT EXISTS {database:Identifier}.deadletters
(
    source_topic LowCardinality(String),
    source_partition UInt32,
    source_offset UInt64,
    index_in_batch Int32,  -- -1: the whole message (unreadable JSON)
    reason String,
    raw String CODEC(ZSTD(3)),
    raw_encoding LowCardinality(String),
    received_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (source_topic, source_partition, source_offset, index_in_batch)
TTL toDateTime(received_at) + toIntervalDay({{retention_days}})
SETTINGS non_replicated_deduplication_window = 10000;
