-- Leaves of the evidence log in [first, until), every stored row (a duplicated index is
-- an integrity failure the reader must see, so no deduplication here).
SELECT leaf_index, finding_id, leaf_hash, appended_at
FROM {database:Identifier}.evidence_leaves
WHERE leaf_index >= {first:UInt64} AND leaf_index < {until:UInt64}
ORDER BY leaf_index, appended_at
