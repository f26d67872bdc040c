-- SQLite only: its project search index (FTS5) is fed once per group-commit batch from a
-- queue (ADR 0009's addendum). PostgreSQL's GIN index is kept by the row's own statement
-- and costs nothing per savepoint, so nothing changes here; the migration keeps both
-- backends' numbers and names alike (a source's migrations must match the target's).
SELECT 1;
