-- The leaf (or leaves, if the log was tampered with) of one finding.
SELECT leaf_index, finding_id, leaf_hash, appended_at
FROM {database:Identifier}.evidence_leaves
WHERE finding_id = {finding_id:String}
ORDER BY leaf_index
