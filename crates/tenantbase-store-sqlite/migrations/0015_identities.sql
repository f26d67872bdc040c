-- OpenID Connect sign-in (ID-9): the provider identities linked to accounts, and the
-- sign-in flows under way.

-- One row per (issuer, subject): an identity at a provider belongs to at most one account.
CREATE TABLE identities (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The configured provider's name, as the API shows it.
    provider     TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    -- The email the provider asserted when the identity was linked, for display only.
    email        TEXT,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    UNIQUE (issuer, subject)
);

CREATE INDEX identities_user ON identities (user_id, created_at);

-- Authorization-code flows started and not yet finished: single use (the callback deletes
-- the row), ten minutes. Only the state's SHA-256 is kept; the PKCE verifier and the nonce
-- are derived from the state under a key of the master key, so nothing here is a secret.
CREATE TABLE oidc_flows (
    state_hash   TEXT PRIMARY KEY NOT NULL,
    provider     TEXT NOT NULL,
    -- Set when the flow links an identity to this signed-in user, and the session that
    -- started it; NULL for a sign-in.
    user_id      BLOB REFERENCES users (id) ON DELETE CASCADE,
    session_id   BLOB REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    -- The S256 challenge the app may bind its login code to (RFC 7636 between the app and
    -- this server); the exchange must then present the verifier.
    app_challenge TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

CREATE INDEX oidc_flows_expiry ON oidc_flows (expires_at);

-- Identities a linking flow verified, waiting for the user and session that started it
-- to confirm them (the callback never links: a victim lured through someone else's flow
-- must not link their identity to that account). Single use, five minutes; only the
-- link code's SHA-256 is kept.
CREATE TABLE oidc_link_codes (
    code_hash    TEXT PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    provider     TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    email        TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

CREATE INDEX oidc_link_codes_expiry ON oidc_link_codes (expires_at);
