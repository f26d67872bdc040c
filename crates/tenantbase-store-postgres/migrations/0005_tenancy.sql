-- Organizations (the tenants) and what they own: roles, members, teams, invitations,
-- API keys and projects. Every owned table leads with org_id, so each org's rows sit
-- together in every index. Row-level security confines every
-- owned table to the transaction's org (`app.org_id`); see 0006 for the roles.

CREATE TABLE organizations (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_by UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);

CREATE TABLE org_roles (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of permission names.
    permissions TEXT NOT NULL,
    builtin     BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name),
    -- The target of the (org_id, role_id) references below: a grant can only name a
    -- role of its own org.
    UNIQUE (org_id, id)
);

CREATE TABLE org_members (
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX org_members_user ON org_members (user_id, org_id);

CREATE TABLE member_roles (
    org_id  UUID NOT NULL,
    user_id UUID NOT NULL,
    role_id UUID NOT NULL,
    PRIMARY KEY (org_id, user_id, role_id),
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_id) REFERENCES org_roles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE teams (
    id         UUID PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
);

CREATE TABLE team_members (
    org_id  UUID NOT NULL,
    team_id UUID NOT NULL,
    user_id UUID NOT NULL,
    PRIMARY KEY (org_id, team_id, user_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);

CREATE TABLE team_roles (
    org_id  UUID NOT NULL,
    team_id UUID NOT NULL,
    role_id UUID NOT NULL,
    PRIMARY KEY (org_id, team_id, role_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_id) REFERENCES org_roles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    -- JSON array of role ids.
    role_ids    TEXT NOT NULL,
    any_email   BOOLEAN NOT NULL,
    -- SHA-256 of the emailed token.
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    accepted_by UUID,
    revoked_at  TIMESTAMPTZ
);

CREATE INDEX invitations_org ON invitations (org_id, created_at);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    -- SHA-256 of the whole secret (256 random bits, so a fast hash is enough).
    secret_hash  TEXT NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,
    created_by   UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

CREATE TABLE projects (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Byte order, as SQLite's BINARY: both backends sort names the same way.
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT,
    -- A JSON object.
    metadata    TEXT NOT NULL,
    created_by  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);

CREATE INDEX projects_org_created ON projects (org_id, created_at, id);
CREATE INDEX projects_org_name ON projects (org_id, name, id);


-- Full-text search over name and description: the 'simple' configuration (no stemming),
-- the same word-prefix semantics as SQLite's FTS5 unicode61 tokenizer.
CREATE INDEX projects_search ON projects
    USING GIN (to_tsvector('simple', name || ' ' || coalesce(description, '')));
