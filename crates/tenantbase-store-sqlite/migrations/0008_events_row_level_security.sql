-- PostgreSQL puts the event log under row-level security here. SQLite has none (see
-- 0006): its events are reached only through the store's org units and the platform
-- paths. The migration exists so both backends apply the same list.
SELECT 1;
