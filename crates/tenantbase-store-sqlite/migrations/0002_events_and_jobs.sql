-- The event log (audit chain) and the job queue.

-- One row per hash chain ('platform' or an org id): its head, and after archival the
-- anchor (last archived event) that the remaining events continue from.
CREATE TABLE audit_chains (
    chain       TEXT PRIMARY KEY NOT NULL,
    head_seq    INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL
);

CREATE TABLE events (
    id          BLOB PRIMARY KEY NOT NULL,
    chain       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    org_id      BLOB,
    event_type  TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    target_kind TEXT,
    target_id   TEXT,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    payload     TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain, seq)
);

CREATE INDEX events_org_time ON events (org_id, occurred_at);

CREATE TABLE jobs (
    id           BLOB PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at       TEXT NOT NULL,
    unique_key   TEXT UNIQUE,
    last_error   TEXT,
    locked_by    TEXT,
    locked_until TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT
);

CREATE INDEX jobs_due ON jobs (state, run_at);
