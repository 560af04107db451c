-- Findings with their canonical evidence bundle: sha256(bundle) = evidence_hash.
-- Natural key: finding_id (deterministic from the rule and what the finding is about). The sort
-- key leads with enterprise_id, which is part of what finding_id hashes, so (enterprise_id,
-- finding_id) identifies exactly the same rows and enterprise look-ups prune granules.
-- A redelivered finding has the same ts, so its copies share a partition and collapse at merge.

CREATE TABLE IF NOT EXISTS {database:Identifier}.findings
(
    finding_id String,
    rule_id LowCardinality(String),
    severity LowCardinality(String),
    enterprise_id LowCardinality(String),
    transfer_id Nullable(String),
    ts DateTime64(6, 'UTC'),
    required_path LowCardinality(Nullable(String)),
    filing_ids Array(String),
    explanation String,
    explanation_zh String,
    evidence_hash String,
    bundle String CODEC(ZSTD(3)),
    engine_version LowCardinality(String),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX finding_id_bloom finding_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (enterprise_id, finding_id)
TTL toDateTime(inserted_at) + toIntervalDay({{retention_days}})
SETTINGS non_replicated_deduplication_window = 10000;
