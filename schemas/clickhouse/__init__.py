"""ClickHouse DDL of the evidence store: numbered, append-only `NNN_name.sql` files.

This file only makes the directory a package so the `.sql` files ship as package data; the
migration runner (`pipeline.storage.migrations`) reads them with `importlib.resources`.

Rules for a migration file:
- the name is `NNN_snake_case.sql`; files apply in numeric order, each exactly once, and an
  applied file is never edited (its SHA-256 is recorded in `schema_migrations`; a changed file
  is refused): change the schema by adding the next number;
- every statement is idempotent (`IF NOT EXISTS`, `IF EXISTS`), because ClickHouse DDL is not
  transactional and a file that failed half-way is applied again from its first statement;
- the database is the query parameter `{database:Identifier}`, the same SQL for chDB and a
  server; the one text substitution is `{{retention_days}}`, an int from `ClickHouseSettings`.
"""
