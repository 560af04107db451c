-- name: schema
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    require_signature INTEGER NOT NULL DEFAULT 0,
    label TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_enterprise ON api_keys (enterprise_id);

-- name: insert
INSERT INTO api_keys (key_id, enterprise_id, secret_hash, require_signature, label, created_at)
VALUES (:key_id, :enterprise_id, :secret_hash, :require_signature, :label, :created_at);

-- name: by_id
SELECT key_id, enterprise_id, secret_hash, require_signature, label, created_at, revoked_at
FROM api_keys WHERE key_id = :key_id;

-- name: list
SELECT key_id, enterprise_id, secret_hash, require_signature, label, created_at, revoked_at
FROM api_keys
WHERE :enterprise_id IS NULL OR enterprise_id = :enterprise_id
ORDER BY created_at, key_id;

-- name: revoke
UPDATE api_keys SET revoked_at = :revoked_at WHERE key_id = :key_id AND revoked_at IS NULL;
