-- Stored transfers, one row per (enterprise_id, transfer_id): the latest ingested copy.
SELECT
    transfer_id, enterprise_id, ts, recipient, country, categories, subjects,
    sensitive_subjects, records, bytes, purpose, legal_basis, filing_ref, dst_hosts,
    received_at, required_path, source_topic, source_partition, source_offset, ingested_at
FROM {database:Identifier}.transfers FINAL
WHERE ({enterprise_id:Nullable(String)} IS NULL OR enterprise_id = {enterprise_id:Nullable(String)})
    AND ({since:Nullable(DateTime64(6, 'UTC'))} IS NULL OR ts >= {since:Nullable(DateTime64(6, 'UTC'))})
    AND ({until:Nullable(DateTime64(6, 'UTC'))} IS NULL OR ts < {until:Nullable(DateTime64(6, 'UTC'))})
ORDER BY enterprise_id, transfer_id, ingested_at DESC
LIMIT 1 BY enterprise_id, transfer_id
LIMIT {limit:UInt64}
