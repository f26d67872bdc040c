-- The event log behind the same wall as every org-owned table.
--
-- An org's events are visible and writable only in a transaction set to that org
-- (`app.org_id`, as for every org table). The platform chain (org_id NULL) and the paths
-- that must cross orgs — chain verification and export, archival, appends through a
-- platform unit of work — set the transaction-local `app.scope = 'platform'` just before
-- their events statement; nothing else sets it. A connection that sets neither sees no
-- event at all.

CREATE FUNCTION tenantbase_platform_scope() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('app.scope', true), '') = 'platform' $$;

ALTER FUNCTION tenantbase_platform_scope() OWNER TO tenantbase_owner;

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON events
    USING (org_id = tenantbase_current_org() OR tenantbase_platform_scope())
    WITH CHECK (org_id = tenantbase_current_org() OR tenantbase_platform_scope());
