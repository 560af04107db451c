-- The period at a glance: transfers, individuals, bytes, findings (high and critical), and the
-- enterprises that exported. FINAL-safe.
SELECT
    t.transfers AS transfers,
    t.individuals AS individuals,
    t.bytes AS bytes,
    t.enterprises AS exporting_enterprises,
    f.findings AS findings,
    f.serious AS high_or_critical_findings
FROM
(
    SELECT
        count() AS transfers,
        sum(subjects + sensitive_subjects) AS individuals,
        sum(bytes) AS bytes,
        uniqExact(enterprise_id) AS enterprises
    FROM
    (
        SELECT enterprise_id, transfer_id, subjects, sensitive_subjects, bytes
        FROM ${database}.transfers FINAL
        WHERE $__timeFilter(ts)
        ORDER BY enterprise_id, transfer_id, ingested_at DESC
        LIMIT 1 BY enterprise_id, transfer_id
    )
) AS t
CROSS JOIN
(
    SELECT count() AS findings, countIf(severity IN ('high', 'critical')) AS serious
    FROM
    (
        SELECT finding_id, severity FROM ${database}.findings FINAL
        WHERE $__timeFilter(ts)
        ORDER BY finding_id, inserted_at DESC
        LIMIT 1 BY finding_id
    )
) AS f
