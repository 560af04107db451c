-- Reference data the dashboards and the report join with: the enterprises (sector, region,
-- FTZ) and their filings (kind, status, validity, scope). Written by `xbmon reference load`
-- and the embedded stack through the store writer (`evidence.rows`), as the loader publishes
-- them to the compacted reference topics. One row per natural key, the latest publication
-- wins (read FINAL). No TTL: this is the current register, not evidence; the evidence a
-- finding rests on keeps its own copy of every filing it examined in its bundle.

CREATE TABLE IF NOT EXISTS {database:Identifier}.enterprises
(
    enterprise_id String,
    name String,
    sector LowCardinality(String),
    region LowCardinality(String),
    ftz LowCardinality(Nullable(String)),
    is_ciio Bool,
    egress_cidrs Array(String),
    published_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(published_at)
ORDER BY enterprise_id
SETTINGS non_replicated_deduplication_window = 10000;

-- valid_until_effective: the end the engine applies (`valid_until`, or three calendar years
-- after approval for a security assessment without one; NULL: no expiry).
CREATE TABLE IF NOT EXISTS {database:Identifier}.filings
(
    filing_id String,
    enterprise_id LowCardinality(String),
    kind LowCardinality(String),
    status LowCardinality(String),
    valid_from DateTime64(6, 'UTC'),
    valid_until Nullable(DateTime64(6, 'UTC')),
    valid_until_effective Nullable(DateTime64(6, 'UTC')),
    revoked_at Nullable(DateTime64(6, 'UTC')),
    recipients Array(String),
    countries Array(LowCardinality(String)),
    categories Array(LowCardinality(String)),
    purposes Array(LowCardinality(String)),
    max_subjects Nullable(UInt64),
    published_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(published_at)
ORDER BY (enterprise_id, filing_id)
SETTINGS non_replicated_deduplication_window = 10000;
