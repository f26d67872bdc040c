-- Emailed codes for step-ups get a table of their own, so that a step-up's send does not
-- cancel the code a sign-in is waiting for, nor the reverse. Additive on purpose: the
-- previous binary, still serving during a rolling upgrade or after a rollback, keeps
-- using `mfa_email_codes` as it is (for sign-in codes only, as before this migration).
-- One outstanding step-up code per user, as there is one sign-in code per user.
CREATE TABLE mfa_step_up_email_codes (
    user_id    UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_step_up_email_codes TO tenantbase_app;
