-- Instants are Unix milliseconds; digests are 32-byte HMAC-SHA256 values.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    instance_admin BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_digest BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    deploy_hook_url TEXT,
    deploy_hook_secret TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE INDEX projects_by_slug ON projects(slug);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE branch_rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pattern TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, pattern)
);

-- Tokens outlive their project or environment as revoked records, so
-- project_id and environment_id carry no foreign key.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    project_id TEXT,
    environment_id TEXT,
    scopes TEXT NOT NULL,
    preview TEXT NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    previous_digest BLOB,
    previous_valid_until INTEGER,
    created_by_id TEXT NOT NULL,
    created_by_label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    last_used_at INTEGER,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX tokens_by_previous_digest ON tokens(previous_digest) WHERE previous_digest IS NOT NULL;
CREATE INDEX tokens_by_org ON tokens(org_id, created_at);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
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
    created_at INTEGER NOT NULL
);
CREATE INDEX deployments_by_project ON deployments(project_id, created_at);

-- Audit events keep no foreign keys: they must survive what they describe.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    actor_id TEXT NOT NULL,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    client_ip TEXT,
    details TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events(org_id, at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
