-- Second factors: TOTP (secret sealed under the master key), email codes, backup codes
-- (keyed hashes), the pending second step of a sign-in, and trusted devices. All of it
-- belongs to a user, none to an org.

-- One row per factor kind of a user: 'totp' (pending until confirmed_at is set) or
-- 'email' (opted in to emailed codes).
CREATE TABLE mfa_factors (
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    -- XChaCha20-Poly1305 under a key derived from the master key; NULL for 'email'.
    sealed_secret  BYTEA,
    confirmed_at   TIMESTAMPTZ,
    -- The last TOTP time step accepted: a code of that step or an older one is refused.
    last_used_step BIGINT,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- HMAC-SHA256 of each code under a key derived from the master key.
CREATE TABLE mfa_backup_codes (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a sign-in whose first factor passed: the mfa_token, stored as
-- SHA-256, single use, bound to the device id the first step sent.
CREATE TABLE mfa_challenges (
    token_hash   TEXT PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id    TEXT,
    -- The amr value of the first factor (pwd, …).
    first_factor TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);

CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- The one emailed code a user may have outstanding (HMAC, as backup codes).
CREATE TABLE mfa_email_codes (
    user_id    UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Devices that skip the second factor: the device token stored as SHA-256, bound to the
-- device id of the session that trusted it.
CREATE TABLE trusted_devices (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    device_id    TEXT NOT NULL,
    device_label TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX trusted_devices_user ON trusted_devices (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON mfa_factors, mfa_backup_codes, mfa_challenges, mfa_email_codes, trusted_devices
    TO tenantbase_app;
