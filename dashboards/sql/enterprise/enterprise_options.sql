-- The enterprise variable: every enterprise of the register or with a score, by id.
SELECT DISTINCT enterprise_id
FROM
(
    SELECT enterprise_id FROM ${database}.enterprises
    UNION ALL
    SELECT enterprise_id FROM ${database}.scores
)
ORDER BY enterprise_id
