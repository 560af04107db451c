-- Transfers of the period by destination country and recipient. FINAL-safe.
SELECT
    country,
    recipient,
    count() AS transfers,
    sum(subjects) AS subjects,
    sum(sensitive_subjects) AS sensitive_subjects,
    sum(bytes) AS bytes,
    groupUniqArray(legal_basis) AS legal_bases,
    max(ts) AS last_transfer
FROM
(
    SELECT * FROM ${database}.transfers FINAL
    WHERE enterprise_id = '${enterprise}' AND $__timeFilter(ts)
    ORDER BY transfer_id, ingested_at DESC
    LIMIT 1 BY transfer_id
)
GROUP BY country, recipient
ORDER BY bytes DESC, country, recipient
