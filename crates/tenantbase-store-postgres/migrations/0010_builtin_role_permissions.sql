-- Built-in roles take their permissions from code (`BuiltinRole::permissions()` in
-- tenantbase-domain), so a new permission needs no data migration. Their rows stay (ids,
-- names, grants) but their stored lists are emptied, so nothing reads a stale copy.
-- Custom roles keep theirs.

-- The update must reach every org: with row security off, a migration role that
-- row-level security would filter fails here instead of updating nothing.
SET LOCAL row_security = off;
UPDATE org_roles SET permissions = '[]' WHERE builtin;
