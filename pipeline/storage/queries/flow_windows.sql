-- Closed reconciliation windows, one row per (enterprise_id, country, window_start): the
-- latest close.
SELECT
    enterprise_id, country, window_start, declared_bytes, declared_logs, declared_categories,
    observed_bytes, observed_flows, observed_dlp, closed_at
FROM {database:Identifier}.flow_windows FINAL
WHERE ({enterprise_id:Nullable(String)} IS NULL OR enterprise_id = {enterprise_id:Nullable(String)})
    AND ({since:Nullable(DateTime64(6, 'UTC'))} IS NULL OR window_start >= {since:Nullable(DateTime64(6, 'UTC'))})
    AND ({until:Nullable(DateTime64(6, 'UTC'))} IS NULL OR window_start < {until:Nullable(DateTime64(6, 'UTC'))})
ORDER BY enterprise_id, country, window_start, closed_at DESC
LIMIT 1 BY enterprise_id, country, window_start
LIMIT {limit:UInt64}
