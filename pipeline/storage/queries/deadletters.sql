-- Dead letters, one row per (source_topic, source_partition, source_offset, index_in_batch).
SELECT
    source_topic, source_partition, source_offset, index_in_batch, reason, raw, raw_encoding,
    received_at
FROM {database:Identifier}.deadletters FINAL
WHERE ({source_topic:Nullable(String)} IS NULL OR source_topic = {source_topic:Nullable(String)})
ORDER BY source_topic, source_partition, source_offset, index_in_batch, received_at DESC
LIMIT 1 BY source_topic, source_partition, source_offset, index_in_batch
LIMIT {limit:UInt64}
