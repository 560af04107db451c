-- Individuals (subjects + sensitive subjects), by destination country over time. The 8 countries with the most bytes in the
-- period are named, the rest summed as 'other'. One row per transfer (FINAL-safe).
WITH t AS (
    SELECT ts, country, subjects + sensitive_subjects AS individuals, bytes
    FROM ${database}.transfers FINAL
    WHERE $__timeFilter(ts)
    ORDER BY enterprise_id, transfer_id, ingested_at DESC
    LIMIT 1 BY enterprise_id, transfer_id
),
top AS (SELECT country FROM t GROUP BY country ORDER BY sum(bytes) DESC, country LIMIT 8)
SELECT
    $__timeInterval(ts) AS time,
    if(country IN (SELECT country FROM top), country, 'other') AS destination,
    sum(individuals) AS individuals
FROM t
GROUP BY time, destination
ORDER BY time, destination
