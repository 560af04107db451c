-- name: schema
CREATE TABLE IF NOT EXISTS status_transfers (
    enterprise_id TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    PRIMARY KEY (enterprise_id, transfer_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_findings (
    finding_id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    ts TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS status_findings_enterprise ON status_findings (enterprise_id);
CREATE TABLE IF NOT EXISTS status_resolved (
    finding_id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_scores (
    enterprise_id TEXT PRIMARY KEY,
    credit REAL NOT NULL,
    risk REAL NOT NULL,
    tier TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    config_version TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;

-- name: offsets
SELECT topic, partition, next_offset FROM status_offsets;

-- name: save_offset
INSERT INTO status_offsets (topic, partition, next_offset) VALUES (:topic, :partition, :next_offset)
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset;

-- name: add_transfer
INSERT OR IGNORE INTO status_transfers (enterprise_id, transfer_id)
VALUES (:enterprise_id, :transfer_id);

-- name: add_finding
INSERT OR IGNORE INTO status_findings (finding_id, enterprise_id, rule_id, severity, ts)
VALUES (:finding_id, :enterprise_id, :rule_id, :severity, :ts);

-- name: resolve
INSERT OR IGNORE INTO status_resolved (finding_id) VALUES (:finding_id);

-- name: set_score
INSERT INTO status_scores (enterprise_id, credit, risk, tier, computed_at, config_version)
VALUES (:enterprise_id, :credit, :risk, :tier, :computed_at, :config_version)
ON CONFLICT (enterprise_id) DO UPDATE SET
    credit = excluded.credit, risk = excluded.risk, tier = excluded.tier,
    computed_at = excluded.computed_at, config_version = excluded.config_version
WHERE excluded.computed_at >= status_scores.computed_at;

-- name: transfers
SELECT count(*) AS n FROM status_transfers WHERE enterprise_id = :enterprise_id;

-- name: findings_by_rule
SELECT f.rule_id, count(*) AS n, sum(r.finding_id IS NULL) AS open
FROM status_findings AS f LEFT JOIN status_resolved AS r ON r.finding_id = f.finding_id
WHERE f.enterprise_id = :enterprise_id
GROUP BY f.rule_id ORDER BY f.rule_id;

-- name: score
SELECT credit, risk, tier, computed_at, config_version
FROM status_scores WHERE enterprise_id = :enterprise_id;
