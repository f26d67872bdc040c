-- What `auth.cleanup` deletes once it ended more than `auth.keep_ended_days` ago: sessions
-- past their absolute expiry (with their refresh tokens, by cascade), single-use tokens
-- and trusted devices past theirs. Each index is written when its row is inserted and
-- never again, so sign-ins and refreshes pay nothing more.
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expires_at);
CREATE INDEX user_tokens_expiry ON user_tokens (expires_at);
CREATE INDEX trusted_devices_expiry ON trusted_devices (expires_at);
