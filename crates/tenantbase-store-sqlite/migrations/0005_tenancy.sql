-- Organizations (the tenants) and what they own: roles, members, teams, invitations,
-- API keys and projects. Every owned table leads with org_id, so each org's rows sit
-- together in every index. (PostgreSQL adds row-level security on the same tables.)

CREATE TABLE organizations (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_by BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);

CREATE TABLE org_roles (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of permission names.
    permissions TEXT NOT NULL,
    builtin     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (org_id, name),
    -- The target of the (org_id, role_id) references below: a grant can only name a
    -- role of its own org.
    UNIQUE (org_id, id)
);

CREATE TABLE org_members (
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX org_members_user ON org_members (user_id, org_id);

CREATE TABLE member_roles (
    org_id  BLOB NOT NULL,
    user_id BLOB NOT NULL,
    role_id BLOB NOT NULL,
    PRIMARY KEY (org_id, user_id, role_id),
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_id) REFERENCES org_roles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE teams (
    id         BLOB PRIMARY KEY NOT NULL,
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
);

CREATE TABLE team_members (
    org_id  BLOB NOT NULL,
    team_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    PRIMARY KEY (org_id, team_id, user_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);

CREATE TABLE team_roles (
    org_id  BLOB NOT NULL,
    team_id BLOB NOT NULL,
    role_id BLOB NOT NULL,
    PRIMARY KEY (org_id, team_id, role_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_id) REFERENCES org_roles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    -- JSON array of role ids.
    role_ids    TEXT NOT NULL,
    any_email   INTEGER NOT NULL,
    -- SHA-256 of the emailed token.
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    accepted_at TEXT,
    accepted_by BLOB,
    revoked_at  TEXT
);

CREATE INDEX invitations_org ON invitations (org_id, created_at);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    -- SHA-256 of the whole secret (256 random bits, so a fast hash is enough).
    secret_hash  TEXT NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,
    created_by   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

CREATE TABLE projects (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    -- A JSON object.
    metadata    TEXT NOT NULL,
    created_by  BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);

CREATE INDEX projects_org_created ON projects (org_id, created_at, id);
CREATE INDEX projects_org_name ON projects (org_id, name, id);

-- Full-text search over name and description (unicode61 tokenizer keeping diacritics,
-- no stemming: the same word-prefix semantics as PostgreSQL's 'simple' configuration).
CREATE VIRTUAL TABLE projects_fts USING fts5 (
    name, description, content = 'projects', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER projects_fts_insert AFTER INSERT ON projects BEGIN
    INSERT INTO projects_fts (rowid, name, description) VALUES (new.rowid, new.name, new.description);
END;

CREATE TRIGGER projects_fts_delete AFTER DELETE ON projects BEGIN
    INSERT INTO projects_fts (projects_fts, rowid, name, description)
    VALUES ('delete', old.rowid, old.name, old.description);
END;

CREATE TRIGGER projects_fts_update AFTER UPDATE OF name, description ON projects BEGIN
    INSERT INTO projects_fts (projects_fts, rowid, name, description)
    VALUES ('delete', old.rowid, old.name, old.description);
    INSERT INTO projects_fts (rowid, name, description) VALUES (new.rowid, new.name, new.description);
END;
