-- Enterprises by supervision tier at the end of the period: each enterprise's latest score
-- computed up to then.
SELECT tier, count() AS enterprises
FROM
(
    SELECT enterprise_id, argMax(tier, computed_at) AS tier
    FROM ${database}.scores FINAL
    WHERE computed_at <= $__toTime
    GROUP BY enterprise_id
)
GROUP BY tier
ORDER BY tier
