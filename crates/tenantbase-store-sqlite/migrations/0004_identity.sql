-- Accounts, sign-in sessions, rotating refresh tokens, and the token signing keys.

CREATE TABLE users (
    id             BLOB PRIMARY KEY NOT NULL,
    -- Normalised (trimmed, lower case); NULL for guests.
    email          TEXT UNIQUE,
    display_name   TEXT NOT NULL,
    -- argon2id PHC string; NULL for guests.
    password_hash  TEXT,
    email_verified INTEGER NOT NULL,
    is_guest       INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE sessions (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id           TEXT,
    device_label        TEXT,
    user_agent          TEXT,
    ip                  TEXT,
    -- JSON array of authentication methods (amr).
    amr                 TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    last_seen_at        TEXT NOT NULL,
    idle_expires_at     TEXT NOT NULL,
    absolute_expires_at TEXT NOT NULL,
    revoked_at          TEXT,
    revoked_reason      TEXT
);

CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- Refresh tokens are stored only as SHA-256 hashes. A used token keeps its row (with
-- used_at) so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    used_at    TEXT
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid                   TEXT PRIMARY KEY NOT NULL,
    public_key            BLOB NOT NULL,
    encrypted_private_key BLOB NOT NULL,
    created_at            TEXT NOT NULL,
    retired_at            TEXT
);

-- Single-use tokens mailed to users (email verification, password reset), stored as
-- SHA-256 hashes; a newer token of the same purpose invalidates older ones.
CREATE TABLE user_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);

CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose);
