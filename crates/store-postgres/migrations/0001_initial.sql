-- The same schema as the SQLite backend's 0001_initial.sql, in PostgreSQL
-- types. Instants are Unix milliseconds (BIGINT); digests are 32-byte
-- HMAC-SHA256 values (BYTEA). Text that listings sort by is COLLATE "C", so
-- that it sorts by bytes as on SQLite, whatever the database's locale.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT COLLATE "C" NOT NULL UNIQUE,
    plan TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    instance_admin BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_digest BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT COLLATE "C" NOT NULL,
    deploy_hook_url TEXT,
    deploy_hook_secret TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE INDEX projects_by_slug ON projects(slug);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE branch_rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pattern TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, pattern)
);

-- Tokens outlive their project or environment as revoked records, so
-- project_id and environment_id carry no foreign key.
CREATE TABLE tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    project_id TEXT,
    environment_id TEXT,
    scopes TEXT NOT NULL,
    preview TEXT NOT NULL,
    digest BYTEA NOT NULL UNIQUE,
    previous_digest BYTEA,
    previous_valid_until BIGINT,
    created_by_id TEXT NOT NULL,
    created_by_label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    last_used_at BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX tokens_by_previous_digest ON tokens(previous_digest) WHERE previous_digest IS NOT NULL;
CREATE INDEX tokens_by_org ON tokens(org_id, created_at);

CREATE TABLE deployments (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_id TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    git_ref TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    hook_status TEXT NOT NULL,
    created_by_id TEXT NOT NULL,
    created_by_label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX deployments_by_project ON deployments(project_id, created_at);

-- Audit events keep no foreign keys: they must survive what they describe.
-- details is JSON kept as TEXT, read back exactly as the SQLite backend does.
CREATE TABLE audit_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    org_id TEXT,
    actor_id TEXT NOT NULL,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    client_ip TEXT,
    details TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events(org_id, at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
