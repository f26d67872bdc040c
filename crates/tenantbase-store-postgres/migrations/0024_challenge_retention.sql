-- What else `auth.cleanup` deletes once it expired more than `auth.keep_ended_days` ago:
-- the second steps of sign-ins (mfa_challenges) and the emailed codes of both purposes.
-- WebAuthn ceremonies, OpenID flows and link codes have had their expiry index since
-- 0014 and 0015. A challenge's expiry is written at insert only; an emailed code's when it
-- is sent again, which rewrites its row anyway.
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);
CREATE INDEX mfa_email_codes_expiry ON mfa_email_codes (expires_at);
CREATE INDEX mfa_step_up_email_codes_expiry ON mfa_step_up_email_codes (expires_at);
