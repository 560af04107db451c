-- Bootstrap: the database and the ledger of applied migrations. The runner executes this file
-- on every start (it is idempotent) before it reads the ledger, then records it like any other.

CREATE DATABASE IF NOT EXISTS {database:Identifier};

CREATE TABLE IF NOT EXISTS {database:Identifier}.schema_migrations
(
    version UInt32,
    name String,
    sha256 String,
    retention_days UInt32,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
