-- Filings whose validity ends within 30 days after the end of the period (the end the engine
-- applies, so a security assessment without valid_until ends three years after approval), that
-- are not pending and not revoked by then: the enterprise has to renew (Art. 9).
WITH e AS (
    SELECT enterprise_id, name FROM ${database}.enterprises FINAL
    ORDER BY enterprise_id, published_at DESC
    LIMIT 1 BY enterprise_id
)
SELECT
    f.enterprise_id AS enterprise_id,
    e.name AS name,
    f.filing_id AS filing_id,
    f.kind AS kind,
    f.valid_until_effective AS valid_until,
    dateDiff('day', $__toTime, f.valid_until_effective) AS days_left,
    f.countries AS countries,
    f.max_subjects AS max_subjects
FROM
(
    SELECT * FROM ${database}.filings FINAL
    ORDER BY enterprise_id, filing_id, published_at DESC
    LIMIT 1 BY enterprise_id, filing_id
) AS f
LEFT JOIN e ON e.enterprise_id = f.enterprise_id
WHERE f.status != 'pending'
    AND (f.revoked_at IS NULL OR f.revoked_at > $__toTime)
    AND NOT (f.status = 'revoked' AND f.revoked_at IS NULL)
    AND f.valid_until_effective >= $__toTime
    AND f.valid_until_effective <= $__toTime + INTERVAL 30 DAY
ORDER BY valid_until, enterprise_id, filing_id
SETTINGS join_use_nulls = 0
