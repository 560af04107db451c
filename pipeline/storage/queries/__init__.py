"""SQL the store runs (reads), one statement per `.sql` file, loaded by name.

See `pipeline.storage.sql.load_query`. Every read of a ReplacingMergeTree table is FINAL-safe:
`FINAL` collapses copies within a partition, `LIMIT 1 BY <key>` removes any copy that landed
in another partition, so a redelivered row is read once whether or not parts have merged.
"""
