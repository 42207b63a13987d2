-- Token policy (SPEC 6.6).
--
-- allowed_ips: the CIDR ranges a token may be used from, comma-separated;
-- NULL for anywhere. parent_id: the token a child was attenuated from; a
-- child dies with its parent. salt_fingerprint: the fingerprint of the salt
-- the token's current digest was made with, so a salt rotation can count
-- the tokens still digested under the previous salt. Every token before
-- this migration was digested under the salt whose fingerprint is stored.
-- (The change log's trigger already fires on any column but last_used_at.)
ALTER TABLE tokens ADD COLUMN allowed_ips TEXT;
ALTER TABLE tokens ADD COLUMN parent_id TEXT;
ALTER TABLE tokens ADD COLUMN salt_fingerprint TEXT NOT NULL DEFAULT '';
UPDATE tokens SET salt_fingerprint = COALESCE((SELECT value FROM settings WHERE key = 'token_salt_fingerprint'), '');
CREATE INDEX tokens_by_parent ON tokens(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX tokens_by_salt ON tokens(salt_fingerprint);

-- An org's rules for the lifetimes of its tokens; no row: no rules.
CREATE TABLE org_policies (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    max_token_lifetime_secs BIGINT,
    require_expiry BOOLEAN NOT NULL
);
