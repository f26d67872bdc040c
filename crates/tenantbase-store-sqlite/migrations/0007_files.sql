-- Files: org-owned objects in the object store, keyed org/{org_id}/{file_id}. A row exists
-- only for an object stored in full; presigned uploads wait in file_uploads until the
-- client reports them complete.
CREATE TABLE files (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    -- Hex SHA-256 of the bytes.
    sha256       TEXT NOT NULL,
    created_by   BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE INDEX files_org_created ON files (org_id, created_at, id);

CREATE TABLE file_uploads (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    -- What the client promised, checked when the upload completes.
    sha256       TEXT,
    created_by   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    -- Set while a request completes the upload (a lease: a crashed completion's claim
    -- runs out and another may take over).
    claimed_until TEXT
);

CREATE INDEX file_uploads_org ON file_uploads (org_id, id);

-- Bytes of each org's stored files, kept in step with `files` by the statements that
-- insert and delete them: the quota check reads one row, whatever the number of files.
CREATE TABLE org_file_usage (
    org_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    bytes  INTEGER NOT NULL
);

-- Profiles (DATA-3).
ALTER TABLE users ADD COLUMN bio TEXT;
ALTER TABLE users ADD COLUMN profile_visibility TEXT NOT NULL DEFAULT 'org';
ALTER TABLE users ADD COLUMN avatar_content_type TEXT;
ALTER TABLE users ADD COLUMN avatar_sha256 TEXT;

-- Built-in roles of existing orgs gain the file permissions new orgs are seeded with.
UPDATE org_roles SET permissions = json_insert(permissions, '$[#]', 'files:read', '$[#]', 'files:write', '$[#]', 'files:delete')
    WHERE builtin = 1 AND name IN ('owner', 'admin');
UPDATE org_roles SET permissions = json_insert(permissions, '$[#]', 'files:read', '$[#]', 'files:write')
    WHERE builtin = 1 AND name = 'member';
UPDATE org_roles SET permissions = json_insert(permissions, '$[#]', 'files:read')
    WHERE builtin = 1 AND name IN ('viewer', 'guest');
