-- Emailed codes for step-ups get a table of their own, so that a step-up's send does not
-- cancel the code a sign-in is waiting for, nor the reverse. Additive on purpose: the
-- previous binary keeps using `mfa_email_codes` as it is (for sign-in codes only).
-- One outstanding step-up code per user, as there is one sign-in code per user.
CREATE TABLE mfa_step_up_email_codes (
    user_id    BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
