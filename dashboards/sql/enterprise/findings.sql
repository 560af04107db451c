-- The enterprise's findings of the period with their evidence hashes (SHA-256 of the stored
-- canonical bundle: `xbmon` can verify each one).
SELECT ts, rule_id, severity, transfer_id, filing_ids, explanation, evidence_hash, finding_id
FROM
(
    SELECT * FROM ${database}.findings FINAL
    WHERE enterprise_id = '${enterprise}' AND $__timeFilter(ts)
    ORDER BY finding_id, inserted_at DESC
    LIMIT 1 BY finding_id
)
ORDER BY ts DESC, rule_id, finding_id
