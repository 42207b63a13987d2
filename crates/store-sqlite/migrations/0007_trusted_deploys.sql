-- Trusted deploys. A token minted for a CI job's OpenID Connect ID token
-- has source 'oidc' and does not count towards the plan limit; every token
-- made before was made by a user.
ALTER TABLE tokens ADD COLUMN source TEXT NOT NULL DEFAULT 'user';

-- Who may trade an ID token for a token of a project (or one environment
-- of it). They go with their project or environment.
CREATE TABLE trust_policies (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id TEXT REFERENCES environments(id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    audience TEXT NOT NULL,
    claims TEXT NOT NULL,
    scopes TEXT NOT NULL,
    max_ttl_secs INTEGER NOT NULL,
    created_by_id TEXT NOT NULL,
    created_by_label TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX trust_policies_by_project ON trust_policies(project_id, created_at);
CREATE INDEX trust_policies_by_issuer ON trust_policies(issuer);

-- Every ID token's jti that minted a token, until the ID token expires:
-- the primary key lets each mint once.
CREATE TABLE oidc_used_jtis (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_used_jtis_by_time ON oidc_used_jtis(until);
