-- Events recorded by the transactions that make their changes and not yet sealed into
-- their chain (ADR 0004). Recording is a plain insert here, so writers to one org never
-- queue on its chain's head; a sealer moves them into `events` in `pending_no` order,
-- giving each its seq and hashes. Existing events are sealed already and stay as they are.
CREATE TABLE pending_events (
    pending_no  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          UUID NOT NULL UNIQUE,
    chain       TEXT NOT NULL,
    org_id      UUID,
    event_type  TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    target_kind TEXT,
    target_id   TEXT,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    payload     TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX pending_events_chain ON pending_events (chain, pending_no);

-- Behind the same wall as `events` (0008): an org's own transactions record into it; the
-- sealer, verification and metrics read across orgs in the platform scope.
ALTER TABLE pending_events OWNER TO tenantbase_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON pending_events TO tenantbase_app;
ALTER TABLE pending_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE pending_events FORCE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON pending_events
    USING (org_id = tenantbase_current_org() OR tenantbase_platform_scope())
    WITH CHECK (org_id = tenantbase_current_org() OR tenantbase_platform_scope());
