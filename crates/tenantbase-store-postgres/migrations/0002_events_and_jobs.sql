-- The event log (audit chain) and the job queue.

-- One row per hash chain ('platform' or an org id): its head, and after archival the
-- anchor (last archived event) that the remaining events continue from.
CREATE TABLE audit_chains (
    chain       TEXT PRIMARY KEY,
    head_seq    BIGINT NOT NULL,
    head_hash   TEXT NOT NULL,
    anchor_seq  BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL
);

CREATE TABLE events (
    id          UUID PRIMARY KEY,
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
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
    occurred_at TIMESTAMPTZ NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain, seq)
);

CREATE INDEX events_org_time ON events (org_id, occurred_at);

CREATE TABLE jobs (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at       TIMESTAMPTZ NOT NULL,
    unique_key   TEXT UNIQUE,
    last_error   TEXT,
    locked_by    TEXT,
    locked_until TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);

CREATE INDEX jobs_due ON jobs (state, run_at);
