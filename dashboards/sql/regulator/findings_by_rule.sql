-- Findings by rule over time (event time of what each finding is about). FINAL-safe.
SELECT $__timeInterval(ts) AS time, rule_id, count() AS findings
FROM
(
    SELECT finding_id, rule_id, ts FROM ${database}.findings FINAL
    WHERE $__timeFilter(ts)
    ORDER BY finding_id, inserted_at DESC
    LIMIT 1 BY finding_id
)
GROUP BY time, rule_id
ORDER BY time, rule_id
