-- Events recorded by the transactions that make their changes and not yet sealed into
-- their chain (ADR 0004). A sealer moves them into `events` in `pending_no` order, giving
-- each its seq and hashes. Existing events are sealed already and stay as they are.
CREATE TABLE pending_events (
    pending_no  INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    chain       TEXT NOT NULL,
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
    occurred_at TEXT NOT NULL
);

CREATE INDEX pending_events_chain ON pending_events (chain, pending_no);
