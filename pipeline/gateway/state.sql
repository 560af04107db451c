-- name: schema
CREATE TABLE IF NOT EXISTS accepted (
    enterprise_id TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    PRIMARY KEY (enterprise_id, transfer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS accepted_age ON accepted (accepted_at);
CREATE TABLE IF NOT EXISTS nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (key_id, nonce)
) WITHOUT ROWID;

-- name: is_accepted
SELECT 1 FROM accepted WHERE enterprise_id = :enterprise_id AND transfer_id = :transfer_id;

-- name: accept
INSERT OR IGNORE INTO accepted (enterprise_id, transfer_id, accepted_at)
VALUES (:enterprise_id, :transfer_id, :accepted_at);

-- name: prune_accepted
DELETE FROM accepted WHERE accepted_at < :cutoff;

-- name: use_nonce
INSERT OR IGNORE INTO nonces (key_id, nonce, seen_at) VALUES (:key_id, :nonce, :seen_at);

-- name: prune_nonces
DELETE FROM nonces WHERE seen_at < :cutoff;

-- name: forget_accepted
DELETE FROM accepted;
