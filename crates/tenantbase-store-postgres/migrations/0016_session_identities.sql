-- Sessions opened by an OpenID sign-in remember the linked identity they came through, so
-- that unlinking it ends them (NULL for every other way to sign in); a sign-in's pending
-- second step carries that identity to the session it opens.
--
-- No foreign keys: a revoked session keeps naming the identity it came through, as the
-- `auth.identity.unlinked` event does, and a sign-in checks the identity is still linked
-- under the user's row lock, which the unlinking holds too. A user's sessions are found
-- by `sessions_user`, so no index of its own.
--
-- Both tables are user-owned (no row-level security) and owned by tenantbase_owner with
-- table-wide grants to tenantbase_app (0006, 0012): a new column falls under them.
ALTER TABLE sessions ADD COLUMN identity_id UUID;
ALTER TABLE mfa_challenges ADD COLUMN identity_id UUID;
