-- The latest score of each enterprise (or of one), with the contributions that explain it.
SELECT enterprise_id, credit, risk, tier, previous_tier, trigger, contributions, config_version,
    last_at AS computed_at
FROM
(
SELECT
    enterprise_id,
    argMax(credit, computed_at) AS credit,
    argMax(risk, computed_at) AS risk,
    argMax(tier, computed_at) AS tier,
    argMax(previous_tier, computed_at) AS previous_tier,
    argMax(trigger, computed_at) AS trigger,
    argMax(contributions, computed_at) AS contributions,
    argMax(config_version, computed_at) AS config_version,
    max(computed_at) AS last_at
FROM {database:Identifier}.scores FINAL
WHERE {enterprise_id:Nullable(String)} IS NULL OR enterprise_id = {enterprise_id:Nullable(String)}
GROUP BY enterprise_id
)
ORDER BY enterprise_id
