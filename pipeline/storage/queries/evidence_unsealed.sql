-- Stored findings (one row per finding_id) that are not yet a leaf of the evidence log, in
-- the order the sequencer appends them, with whether the stored bundle still hashes to the
-- finding's evidence_hash (checked here: shipping the bundles to Python was half the read).
-- `since` bounds the scan to rows inserted since then (the periodic sealer's look-back; the
-- epoch for a full scan). The leaves are never bounded: a finding redelivered long after it
-- was sealed stays sealed.
-- No FINAL: `LIMIT 1 BY finding_id` keeps the newest row already, and without FINAL the
-- filters run before the bundles are read (FINAL read every stored bundle each seal).
SELECT
    finding_id, rule_id, severity, enterprise_id, transfer_id, ts, required_path, filing_ids,
    explanation, explanation_zh, evidence_hash,
    lower(hex(SHA256(bundle))) = evidence_hash AS bundle_matches
FROM
(
    SELECT
        finding_id, rule_id, severity, enterprise_id, transfer_id, ts, required_path,
        filing_ids, explanation, explanation_zh, evidence_hash, bundle, inserted_at
    FROM {database:Identifier}.findings
    WHERE inserted_at >= {since:DateTime64(3, 'UTC')}
      AND finding_id NOT IN (SELECT finding_id FROM {database:Identifier}.evidence_leaves)
    ORDER BY finding_id, inserted_at DESC
    LIMIT 1 BY finding_id
)
ORDER BY ts, rule_id, finding_id
LIMIT {limit:UInt64}
