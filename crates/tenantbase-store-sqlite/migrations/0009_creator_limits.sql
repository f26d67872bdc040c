-- What each user is charged for the orgs they created (issue 11 §4): how many they have
-- (capped per guest and per account) and the bytes stored across them (the per-creator
-- quota). Kept on `users`, which every org's unit may update, because on PostgreSQL a
-- unit confined to one org cannot see the creator's other orgs. `orgs_created` counts
-- orgs until they are purged; `creator_file_bytes` moves with `org_file_usage`.
ALTER TABLE users ADD COLUMN orgs_created INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN creator_file_bytes INTEGER NOT NULL DEFAULT 0;

UPDATE users SET
    orgs_created = (SELECT COUNT(*) FROM organizations o WHERE o.created_by = users.id),
    creator_file_bytes = (SELECT COALESCE(SUM(u.bytes), 0)
                          FROM org_file_usage u JOIN organizations o ON o.id = u.org_id
                          WHERE o.created_by = users.id);
