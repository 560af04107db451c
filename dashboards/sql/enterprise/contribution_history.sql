-- Indicator contributions over time: the points each named indicator gave the credit or the
-- risk score (credit indicators that lower it are negative).
SELECT
    computed_at AS time,
    concat(JSONExtractString(c, 'score'), ' / ', JSONExtractString(c, 'indicator')) AS indicator,
    JSONExtractFloat(c, 'points') AS points
FROM
(
    SELECT computed_at, contributions FROM ${database}.scores FINAL
    WHERE enterprise_id = '${enterprise}' AND $__timeFilter(computed_at)
    ORDER BY computed_at
    LIMIT 1 BY computed_at
)
ARRAY JOIN JSONExtractArrayRaw(contributions) AS c
ORDER BY time, indicator
