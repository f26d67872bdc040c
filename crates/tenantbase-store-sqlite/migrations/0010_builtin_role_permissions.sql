-- Built-in roles take their permissions from code (`BuiltinRole::permissions()` in
-- tenantbase-domain), so a new permission needs no data migration. Their rows stay (ids,
-- names, grants) but their stored lists are emptied, so nothing reads a stale copy.
-- Custom roles keep theirs.
UPDATE org_roles SET permissions = '[]' WHERE builtin;
