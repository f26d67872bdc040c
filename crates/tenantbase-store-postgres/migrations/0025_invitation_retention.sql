-- `auth.cleanup` deletes invitations, accepted, revoked or never used, once they expired
-- more than `auth.keep_ended_days` ago: they hold the address they were sent to. It finds
-- them by expiry, across orgs, in the platform scope (0008), which row-level security
-- admits for reading and deleting invitations and nothing else; org units never enter it.
CREATE INDEX invitations_expiry ON invitations (expires_at);

CREATE POLICY platform_retention_read ON invitations FOR SELECT
    USING (tenantbase_platform_scope());
CREATE POLICY platform_retention_delete ON invitations FOR DELETE
    USING (tenantbase_platform_scope());
