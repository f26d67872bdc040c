-- The database wall between tenants.
--
-- Two roles: tenantbase_owner owns the tables; tenantbase_app is what the server runs as
-- (every pooled connection does SET ROLE tenantbase_app). The runtime role is neither the
-- owner nor BYPASSRLS, so row-level security always applies to it. Roles are cluster-wide:
-- creating them tolerates another database (or a concurrent migration) having done it.

DO $$
BEGIN
    CREATE ROLE tenantbase_owner NOLOGIN NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    CREATE ROLE tenantbase_app NOLOGIN NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- The login role that runs migrations and connects the server must be able to act as
-- both (a superuser can already).
DO $$
BEGIN
    EXECUTE format('GRANT tenantbase_owner, tenantbase_app TO %I', current_user);
EXCEPTION WHEN others THEN NULL;
END $$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename <> '_sqlx_migrations'
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO tenantbase_owner', t.tablename);
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tenantbase_app', current_schema());
    EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO tenantbase_app',
        current_schema());
    EXECUTE format('GRANT SELECT ON %I._sqlx_migrations TO tenantbase_app', current_schema());
END $$;

-- The org of the current transaction, or NULL when none was set: a path that forgot to
-- set it sees no org-owned row at all. (After a transaction-local set_config the setting
-- reads as '' rather than NULL, hence NULLIF.)
CREATE FUNCTION tenantbase_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;

-- The user whose own memberships a transaction may list across orgs (`app.user_id`).
CREATE FUNCTION tenantbase_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

ALTER FUNCTION tenantbase_current_org() OWNER TO tenantbase_owner;
ALTER FUNCTION tenantbase_current_user() OWNER TO tenantbase_owner;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_roles', 'member_roles', 'teams', 'team_members',
                             'team_roles', 'invitations', 'api_keys', 'projects']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY org_isolation ON %I USING (org_id = tenantbase_current_org()) '
            'WITH CHECK (org_id = tenantbase_current_org())', t);
    END LOOP;
END $$;

-- Memberships: an org sees its members; a user may also list their own memberships.
ALTER TABLE org_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_members FORCE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON org_members
    USING (org_id = tenantbase_current_org() OR user_id = tenantbase_current_user())
    WITH CHECK (org_id = tenantbase_current_org());

-- The org row: visible to its own scope and to its members listing their orgs.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON organizations
    USING (id = tenantbase_current_org()
           OR id IN (SELECT m.org_id FROM org_members m WHERE m.user_id = tenantbase_current_user()))
    WITH CHECK (id = tenantbase_current_org());
