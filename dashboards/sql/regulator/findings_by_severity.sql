-- Findings by severity over time. FINAL-safe.
SELECT $__timeInterval(ts) AS time, severity, count() AS findings
FROM
(
    SELECT finding_id, severity, ts FROM ${database}.findings FINAL
    WHERE $__timeFilter(ts)
    ORDER BY finding_id, inserted_at DESC
    LIMIT 1 BY finding_id
)
GROUP BY time, severity
ORDER BY time, severity
