-- Step-up authentication: when a session's user last proved who they are (sign-in or
-- reauthentication; NULL only before this migration ran, read as `created_at`), and orgs
-- that require their members to sign in with a second factor.
ALTER TABLE sessions ADD COLUMN authenticated_at TIMESTAMPTZ;
UPDATE sessions SET authenticated_at = created_at;

ALTER TABLE organizations ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
