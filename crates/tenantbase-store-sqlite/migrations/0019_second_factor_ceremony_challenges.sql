-- A passkey second step's ceremony remembers the sign-in challenge (the SHA-256 of its
-- mfa_token, as mfa_challenges.token_hash) that started it: only that mfa_token may
-- finish it, not another pending one of the same user (NULL for the other purposes).
--
-- No foreign key: a ceremony lives minutes, and the finish uses the challenge up anyway.
-- A second step pending at the upgrade names no challenge, so none can finish it; the
-- client starts a new one.
ALTER TABLE webauthn_ceremonies ADD COLUMN mfa_challenge_hash TEXT;
