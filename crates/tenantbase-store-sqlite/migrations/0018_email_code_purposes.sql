-- Emailed codes: one outstanding code per user AND purpose ('sign_in' or 'step_up'), so
-- that a step-up's send does not cancel the code a sign-in is waiting for, nor the
-- reverse. SQLite cannot change a primary key in place: the table is rebuilt.
--
-- Codes pending at the upgrade are kept as sign-in codes: a step-up's (its hash is bound
-- to the step-up) then answers nothing, and the user asks for another.
CREATE TABLE mfa_email_codes_by_purpose (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    PRIMARY KEY (user_id, purpose)
);

INSERT INTO mfa_email_codes_by_purpose (user_id, code_hash, created_at, expires_at, purpose)
    SELECT user_id, code_hash, created_at, expires_at, 'sign_in' FROM mfa_email_codes;

DROP TABLE mfa_email_codes;

ALTER TABLE mfa_email_codes_by_purpose RENAME TO mfa_email_codes;
