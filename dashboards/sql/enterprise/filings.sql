-- The enterprise's filings and their scope (empty = any), with whether each is valid at the
-- end of the period, and the transfers of the period that cite it.
WITH cited AS (
    SELECT filing_ref, count() AS transfers, sum(subjects + sensitive_subjects) AS individuals
    FROM
    (
        SELECT transfer_id, filing_ref, subjects, sensitive_subjects
        FROM ${database}.transfers FINAL
        WHERE enterprise_id = '${enterprise}' AND $__timeFilter(ts)
        ORDER BY transfer_id, ingested_at DESC
        LIMIT 1 BY transfer_id
    )
    WHERE filing_ref IS NOT NULL
    GROUP BY filing_ref
)
SELECT
    f.filing_id AS filing_id,
    f.kind AS kind,
    f.status AS status,
    f.valid_from AS valid_from,
    f.valid_until_effective AS valid_until,
    f.revoked_at AS revoked_at,
    f.status != 'pending'
        AND NOT (f.status = 'revoked' AND f.revoked_at IS NULL)
        AND (f.revoked_at IS NULL OR f.revoked_at > $__toTime)
        AND f.valid_from <= $__toTime
        AND (f.valid_until_effective IS NULL OR f.valid_until_effective >= $__toTime)
        AS valid_at_end,
    f.countries AS countries,
    f.recipients AS recipients,
    f.categories AS categories,
    f.purposes AS purposes,
    f.max_subjects AS max_subjects,
    cited.transfers AS transfers_citing,
    cited.individuals AS individuals_citing
FROM
(
    SELECT * FROM ${database}.filings FINAL
    WHERE enterprise_id = '${enterprise}'
    ORDER BY filing_id, published_at DESC
    LIMIT 1 BY filing_id
) AS f
LEFT JOIN cited ON cited.filing_ref = f.filing_id
ORDER BY f.valid_from, f.filing_id
SETTINGS join_use_nulls = 0
