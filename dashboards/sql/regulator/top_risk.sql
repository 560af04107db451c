-- The 20 riskiest enterprises at the end of the period, with their tier and credit, the
-- register's name and sector, and their findings in the period.
WITH
s AS (
    SELECT
        enterprise_id,
        argMax(risk, computed_at) AS risk,
        argMax(credit, computed_at) AS credit,
        argMax(tier, computed_at) AS tier,
        max(computed_at) AS scored_at
    FROM ${database}.scores FINAL
    WHERE computed_at <= $__toTime
    GROUP BY enterprise_id
),
e AS (
    SELECT enterprise_id, name, sector FROM ${database}.enterprises FINAL
    ORDER BY enterprise_id, published_at DESC
    LIMIT 1 BY enterprise_id
),
f AS (
    SELECT enterprise_id, count() AS findings
    FROM
    (
        SELECT finding_id, enterprise_id FROM ${database}.findings FINAL
        WHERE $__timeFilter(ts)
        ORDER BY finding_id, inserted_at DESC
        LIMIT 1 BY finding_id
    )
    GROUP BY enterprise_id
)
SELECT
    s.enterprise_id AS enterprise_id,
    e.name AS name,
    e.sector AS sector,
    s.tier AS tier,
    round(s.risk, 1) AS risk,
    round(s.credit, 1) AS credit,
    f.findings AS findings,
    s.scored_at AS scored_at
FROM s
LEFT JOIN e ON e.enterprise_id = s.enterprise_id
LEFT JOIN f ON f.enterprise_id = s.enterprise_id
ORDER BY risk DESC, credit ASC, enterprise_id
LIMIT 20
SETTINGS join_use_nulls = 0
