-- A passkey step-up's ceremony remembers the session that started it: only that session
-- may finish it, not another session of the same user (NULL for the other purposes).
--
-- No foreign key: a ceremony lives minutes, and a revoked session cannot finish anything.
-- A step-up pending at the upgrade names no session, so none can finish it; the client
-- starts a new one.
--
-- The table is owned by tenantbase_owner with table-wide grants to tenantbase_app (0014):
-- a new column falls under them.
ALTER TABLE webauthn_ceremonies ADD COLUMN session_id UUID;
