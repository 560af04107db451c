-- Undeclared egress by enterprise and destination country: bytes the probes saw beyond what
-- the enterprise's logs declared, over the closed reconciliation windows of the period, with
-- the XB-UNDECLARED-EGRESS findings (windows over the tolerance) of the same enterprise.
WITH
w AS (
    SELECT enterprise_id, country, window_start, declared_bytes, observed_bytes
    FROM ${database}.flow_windows FINAL
    WHERE $__timeFilter(window_start)
    ORDER BY enterprise_id, country, window_start, closed_at DESC
    LIMIT 1 BY enterprise_id, country, window_start
),
e AS (
    SELECT enterprise_id, name FROM ${database}.enterprises FINAL
    ORDER BY enterprise_id, published_at DESC
    LIMIT 1 BY enterprise_id
),
f AS (
    SELECT enterprise_id, count() AS findings
    FROM
    (
        SELECT finding_id, enterprise_id FROM ${database}.findings FINAL
        WHERE rule_id = 'XB-UNDECLARED-EGRESS' AND $__timeFilter(ts)
        ORDER BY finding_id, inserted_at DESC
        LIMIT 1 BY finding_id
    )
    GROUP BY enterprise_id
)
SELECT
    w.enterprise_id AS enterprise_id,
    e.name AS name,
    w.country AS country,
    sum(w.observed_bytes - w.declared_bytes) AS undeclared_bytes,
    sum(w.observed_bytes) AS observed_bytes,
    sum(w.declared_bytes) AS declared_bytes,
    count() AS windows,
    any(f.findings) AS enterprise_findings
FROM w
LEFT JOIN e ON e.enterprise_id = w.enterprise_id
LEFT JOIN f ON f.enterprise_id = w.enterprise_id
WHERE w.observed_bytes > w.declared_bytes
GROUP BY enterprise_id, name, country
ORDER BY undeclared_bytes DESC, enterprise_id, country
LIMIT 25
SETTINGS join_use_nulls = 0
