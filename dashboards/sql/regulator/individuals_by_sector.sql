-- Individuals (subjects + sensitive subjects), by the exporter's sector over time (sector from the enterprise register;
-- 'other' for an enterprise missing from it, as the engine evaluates it). FINAL-safe.
WITH
e AS (
    SELECT enterprise_id, sector FROM ${database}.enterprises FINAL
    ORDER BY enterprise_id, published_at DESC
    LIMIT 1 BY enterprise_id
),
t AS (
    SELECT ts, enterprise_id, subjects + sensitive_subjects AS individuals, bytes
    FROM ${database}.transfers FINAL
    WHERE $__timeFilter(ts)
    ORDER BY enterprise_id, transfer_id, ingested_at DESC
    LIMIT 1 BY enterprise_id, transfer_id
)
SELECT
    $__timeInterval(t.ts) AS time,
    if(e.sector = '', 'other', e.sector) AS sector,
    sum(individuals) AS individuals
FROM t
LEFT JOIN e ON e.enterprise_id = t.enterprise_id
GROUP BY time, sector
ORDER BY time, sector
SETTINGS join_use_nulls = 0
