-- Emailed codes: one outstanding code per user AND purpose ('sign_in' or 'step_up'), so
-- that a step-up's send does not cancel the code a sign-in is waiting for, nor the
-- reverse.
--
-- Codes pending at the upgrade are kept as sign-in codes: a step-up's (its hash is bound
-- to the step-up) then answers nothing, and the user asks for another. The column comes
-- last, as in SQLite's rebuilt table. The table's grants (0012) cover the new column.
ALTER TABLE mfa_email_codes ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in';
ALTER TABLE mfa_email_codes ALTER COLUMN purpose DROP DEFAULT;
ALTER TABLE mfa_email_codes DROP CONSTRAINT mfa_email_codes_pkey;
ALTER TABLE mfa_email_codes ADD PRIMARY KEY (user_id, purpose);
