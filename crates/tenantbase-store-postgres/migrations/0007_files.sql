-- Files: org-owned objects in the object store, keyed org/{org_id}/{file_id}. A row exists
-- only for an object stored in full; presigned uploads wait in file_uploads until the
-- client reports them complete.
CREATE TABLE files (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT COLLATE "C" NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    -- Hex SHA-256 of the bytes.
    sha256       TEXT NOT NULL,
    created_by   UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX files_org_created ON files (org_id, created_at, id);

CREATE TABLE file_uploads (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    -- What the client promised, checked when the upload completes.
    sha256       TEXT,
    created_by   UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    -- Set while a request completes the upload (a lease: a crashed completion's claim
    -- runs out and another may take over).
    claimed_until TIMESTAMPTZ
);

CREATE INDEX file_uploads_org ON file_uploads (org_id, id);

-- Bytes of each org's stored files, kept in step with `files` by the statements that
-- insert and delete them: the quota check reads one row, whatever the number of files.
CREATE TABLE org_file_usage (
    org_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    bytes  BIGINT NOT NULL
);

-- The same wall as 0006 for the new tables.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['files', 'file_uploads', 'org_file_usage']
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO tenantbase_owner', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO tenantbase_app', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY org_isolation ON %I USING (org_id = tenantbase_current_org()) '
            'WITH CHECK (org_id = tenantbase_current_org())', t);
    END LOOP;
END $$;

-- Profiles (DATA-3).
ALTER TABLE users ADD COLUMN bio TEXT;
ALTER TABLE users ADD COLUMN profile_visibility TEXT NOT NULL DEFAULT 'org';
ALTER TABLE users ADD COLUMN avatar_content_type TEXT;
ALTER TABLE users ADD COLUMN avatar_sha256 TEXT;

-- Built-in roles of existing orgs gain the file permissions new orgs are seeded with.
UPDATE org_roles SET permissions = (permissions::jsonb || '["files:read", "files:write", "files:delete"]'::jsonb)::text
    WHERE builtin AND name IN ('owner', 'admin');
UPDATE org_roles SET permissions = (permissions::jsonb || '["files:read", "files:write"]'::jsonb)::text
    WHERE builtin AND name = 'member';
UPDATE org_roles SET permissions = (permissions::jsonb || '["files:read"]'::jsonb)::text
    WHERE builtin AND name IN ('viewer', 'guest');
