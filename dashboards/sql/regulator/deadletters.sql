-- Dead-letter volume over time, by input topic and the field (or 'invalid JSON') the reason
-- names first. FINAL-safe on the dead letter's natural key.
SELECT
    $__timeInterval(received_at) AS time,
    concat(source_topic, ' / ', splitByString(': ', reason)[1]) AS reason,
    count() AS dead_letters
FROM
(
    SELECT source_topic, reason, received_at FROM ${database}.deadletters FINAL
    WHERE $__timeFilter(received_at)
    ORDER BY source_topic, source_partition, source_offset, index_in_batch, received_at DESC
    LIMIT 1 BY source_topic, source_partition, source_offset, index_in_batch
)
GROUP BY time, reason
ORDER BY time, reason
