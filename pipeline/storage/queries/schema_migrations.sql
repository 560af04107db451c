-- The migration ledger, one row per applied file.
SELECT version, name, sha256, retention_days, applied_at
FROM {database:Identifier}.schema_migrations FINAL
ORDER BY version, applied_at DESC
LIMIT 1 BY version
