-- What each user is charged for the orgs they created (issue 11 §4): how many they have
-- (capped per guest and per account) and the bytes stored across them (the per-creator
-- quota). Kept on `users`, which has no row-level security, because a unit confined to
-- one org cannot see the creator's other orgs. `orgs_created` counts orgs until they are
-- purged; `creator_file_bytes` moves with `org_file_usage`.
ALTER TABLE users ADD COLUMN orgs_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN creator_file_bytes BIGINT NOT NULL DEFAULT 0;

-- The backfill must see every org: with row security off, a migration role that row-level
-- security would filter fails here instead of counting zeros.
SET LOCAL row_security = off;
UPDATE users SET
    orgs_created = (SELECT COUNT(*) FROM organizations o WHERE o.created_by = users.id),
    creator_file_bytes = (SELECT COALESCE(SUM(u.bytes), 0)
                          FROM org_file_usage u JOIN organizations o ON o.id = u.org_id
                          WHERE o.created_by = users.id);
