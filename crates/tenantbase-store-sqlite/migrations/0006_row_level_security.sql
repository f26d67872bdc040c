-- PostgreSQL adds roles and row-level security here. SQLite has neither: an embedded
-- database has one user, and isolation rests on every org-owned statement binding its
-- unit's org (OrgScope). The migration exists so both backends apply the same list.
SELECT 1;
