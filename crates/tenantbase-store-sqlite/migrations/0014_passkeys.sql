-- Passkeys (WebAuthn credentials) of users, and the WebAuthn ceremonies under way.
-- Both belong to users, not orgs: no org_id.

-- `credential` is the verifier's record of the credential (public key, signature counter,
-- backup flags) as JSON: public data, nothing to seal. `sign_count` repeats its counter so
-- that recording a use can refuse, in one statement, a counter that did not move forward.
CREATE TABLE passkeys (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- base64url of the credential id the authenticator chose; one account per credential.
    credential_id   TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    credential      TEXT NOT NULL,
    sign_count      INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL,
    backed_up       INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT
);

CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A ceremony's server-side state between its start and its finish, keyed by the SHA-256
-- of its challenge (which the client's answer carries back): single use, short-lived.
-- `user_id` is NULL for a usernameless sign-in, which names nobody until it finishes.
CREATE TABLE webauthn_ceremonies (
    challenge_hash TEXT PRIMARY KEY NOT NULL,
    user_id        BLOB REFERENCES users (id) ON DELETE CASCADE,
    purpose        TEXT NOT NULL,
    state          TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);

CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
