-- Sessions opened by a passkey (a usernameless sign-in, or a second step) remember it, so
-- that removing the passkey ends them, as unlinking an identity ends its sessions (NULL
-- for every other way to sign in; a federated sign-in with a passkey second step names
-- both).
--
-- No foreign key: a revoked session keeps naming the passkey it came through, as the
-- `auth.passkey.removed` event does. A user's sessions are found by `sessions_user`, so
-- no index of its own. Sessions opened before the upgrade name no passkey and outlive its
-- removal, as they did before.
ALTER TABLE sessions ADD COLUMN passkey_id BLOB;
