-- Coverage of the destinations: for each country the enterprise sent data to in the period,
-- the filings valid at the end of the period whose country scope includes it (empty scope =
-- any country). An uncovered destination with personal information needs a procedure.
WITH
dest AS (
    SELECT country, count() AS transfers, sum(bytes) AS bytes
    FROM
    (
        SELECT transfer_id, country, bytes FROM ${database}.transfers FINAL
        WHERE enterprise_id = '${enterprise}' AND $__timeFilter(ts)
        ORDER BY transfer_id, ingested_at DESC
        LIMIT 1 BY transfer_id
    )
    GROUP BY country
),
valid AS (
    SELECT filing_id, kind, countries
    FROM
    (
        SELECT * FROM ${database}.filings FINAL
        WHERE enterprise_id = '${enterprise}'
        ORDER BY filing_id, published_at DESC
        LIMIT 1 BY filing_id
    )
    WHERE status != 'pending'
        AND NOT (status = 'revoked' AND revoked_at IS NULL)
        AND (revoked_at IS NULL OR revoked_at > $__toTime)
        AND valid_from <= $__toTime
        AND (valid_until_effective IS NULL OR valid_until_effective >= $__toTime)
)
SELECT
    dest.country AS country,
    dest.transfers AS transfers,
    dest.bytes AS bytes,
    arraySort(arrayFilter(
        x -> x != '',
        groupArray(if(empty(valid.countries) OR has(valid.countries, dest.country),
            concat(valid.filing_id, ' (', valid.kind, ')'), ''))
    )) AS covering_filings,
    length(covering_filings) > 0 AS covered
FROM dest
CROSS JOIN valid
GROUP BY country, transfers, bytes
UNION ALL
SELECT country, transfers, bytes, [] AS covering_filings, false AS covered
FROM dest
WHERE (SELECT count() FROM valid) = 0
ORDER BY covered, bytes DESC
