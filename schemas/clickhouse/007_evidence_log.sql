-- The Merkle evidence log (RFC 9162): one leaf per finding_id, and the signed tree heads.
-- Append-only and never expired by TTL: a consistency proof needs every earlier leaf. A leaf
-- commits to its finding's contract fields (evidence_hash included, so to the bundle);
-- leaf_hash = SHA-256(0x00 || canonical JSON of the finding), hex. Written by one sequencer.

CREATE TABLE IF NOT EXISTS {database:Identifier}.evidence_leaves
(
    leaf_index UInt64,
    finding_id String,
    leaf_hash String,
    appended_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY leaf_index
SETTINGS non_replicated_deduplication_window = 1000;

-- A signed tree head: Ed25519 over the checkpoint text (origin, tree_size, base64 root,
-- timestamp). frontier holds the roots of the tree's maximal complete subtrees, left to
-- right (hex), so the next seal appends without reading the leaves.

CREATE TABLE IF NOT EXISTS {database:Identifier}.tree_heads
(
    tree_size UInt64,
    root_hash String,
    timestamp DateTime64(3, 'UTC'),
    origin String,
    key_id String,
    signature String,
    frontier Array(String)
)
ENGINE = MergeTree
ORDER BY tree_size
SETTINGS non_replicated_deduplication_window = 1000;
