-- Why the enterprise is in its tier: the contributions of its latest score up to the end of
-- the period, line by line with their reasons.
SELECT
    JSONExtractString(c, 'score') AS score,
    JSONExtractString(c, 'indicator') AS indicator,
    round(JSONExtractFloat(c, 'points'), 2) AS points,
    JSONExtractString(c, 'reason') AS reason
FROM
(
    SELECT argMax(contributions, computed_at) AS contributions
    FROM ${database}.scores FINAL
    WHERE enterprise_id = '${enterprise}' AND computed_at <= $__toTime
)
ARRAY JOIN JSONExtractArrayRaw(contributions) AS c
ORDER BY score, abs(points) DESC, indicator
