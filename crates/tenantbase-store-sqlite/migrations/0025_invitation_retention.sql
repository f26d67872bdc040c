-- `auth.cleanup` deletes invitations, accepted, revoked or never used, once they expired
-- more than `auth.keep_ended_days` ago: they hold the address they were sent to. It finds
-- them by expiry, across orgs.
CREATE INDEX invitations_expiry ON invitations (expires_at);
