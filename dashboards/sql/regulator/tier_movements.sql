-- Tier movements in the period: how many times enterprises moved from one tier to another,
-- and how many distinct enterprises did (a score row whose previous tier differs).
SELECT
    previous_tier AS from_tier,
    tier AS to_tier,
    count() AS movements,
    uniqExact(enterprise_id) AS enterprises
FROM ${database}.scores FINAL
WHERE $__timeFilter(computed_at)
    AND previous_tier IS NOT NULL
    AND previous_tier != tier
GROUP BY from_tier, to_tier
ORDER BY movements DESC, from_tier, to_tier
