-- The enterprise as the register has it, with its latest score up to the end of the period.
SELECT
    e.enterprise_id AS enterprise_id, e.name AS name, e.sector AS sector, e.region AS region,
    e.ftz AS ftz, e.is_ciio AS is_ciio,
    s.tier AS tier, round(s.credit, 1) AS credit, round(s.risk, 1) AS risk,
    s.scored_at AS scored_at
FROM
(
    SELECT * FROM ${database}.enterprises FINAL
    WHERE enterprise_id = '${enterprise}'
    ORDER BY published_at DESC
    LIMIT 1
) AS e
LEFT JOIN
(
    SELECT
        enterprise_id, argMax(tier, computed_at) AS tier, argMax(credit, computed_at) AS credit,
        argMax(risk, computed_at) AS risk, max(computed_at) AS scored_at
    FROM ${database}.scores FINAL
    WHERE enterprise_id = '${enterprise}' AND computed_at <= $__toTime
    GROUP BY enterprise_id
) AS s ON s.enterprise_id = e.enterprise_id
SETTINGS join_use_nulls = 0
