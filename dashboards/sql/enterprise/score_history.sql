-- Credit and risk over time (every score computed in the period).
SELECT computed_at AS time, credit, risk
FROM ${database}.scores FINAL
WHERE enterprise_id = '${enterprise}' AND $__timeFilter(computed_at)
ORDER BY time
LIMIT 1 BY time
