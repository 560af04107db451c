-- Findings (the Finding model's fields), one row per finding_id, ordered like replay output.
-- Optional filters: NULL (or an empty finding_ids) means "any"; until is exclusive.
SELECT
    finding_id, rule_id, severity, enterprise_id, transfer_id, ts, required_path, filing_ids,
    explanation, explanation_zh, evidence_hash
FROM
(
    SELECT
        finding_id, rule_id, severity, enterprise_id, transfer_id, ts, required_path,
        filing_ids, explanation, explanation_zh, evidence_hash, inserted_at
    FROM {database:Identifier}.findings FINAL
    WHERE ({enterprise_id:Nullable(String)} IS NULL OR enterprise_id = {enterprise_id:Nullable(String)})
        AND ({rule_id:Nullable(String)} IS NULL OR rule_id = {rule_id:Nullable(String)})
        AND (empty({finding_ids:Array(String)}) OR has({finding_ids:Array(String)}, finding_id))
        AND ({since:Nullable(DateTime64(6, 'UTC'))} IS NULL OR ts >= {since:Nullable(DateTime64(6, 'UTC'))})
        AND ({until:Nullable(DateTime64(6, 'UTC'))} IS NULL OR ts < {until:Nullable(DateTime64(6, 'UTC'))})
    ORDER BY finding_id, inserted_at DESC
    LIMIT 1 BY finding_id
)
ORDER BY ts, rule_id, finding_id
LIMIT {limit:UInt64}
