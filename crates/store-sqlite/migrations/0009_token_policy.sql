-- Token policy (SPEC 6.6).
--
-- allowed_ips: the CIDR ranges a token may be used from, comma-separated;
-- NULL for anywhere. parent_id: the token a child was attenuated from; a
-- child dies with its parent. salt_fingerprint: the fingerprint of the salt
-- the token's current digest was made with, so a salt rotation can count
-- the tokens still digested under the previous salt. Every token before
-- this migration was digested under the salt whose fingerprint is stored.
ALTER TABLE tokens ADD COLUMN allowed_ips TEXT;
ALTER TABLE tokens ADD COLUMN parent_id TEXT;
ALTER TABLE tokens ADD COLUMN salt_fingerprint TEXT NOT NULL DEFAULT '';
UPDATE tokens SET salt_fingerprint = COALESCE((SELECT value FROM settings WHERE key = 'token_salt_fingerprint'), '');
CREATE INDEX tokens_by_parent ON tokens(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX tokens_by_salt ON tokens(salt_fingerprint);

-- An org's rules for the lifetimes of its tokens; no row: no rules.
CREATE TABLE org_policies (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    max_token_lifetime_secs INTEGER,
    require_expiry BOOLEAN NOT NULL
);

-- An allow list changes what verification decides: log its changes too.
DROP TRIGGER tokens_changed;
CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens FOR EACH ROW
    WHEN NEW.digest IS NOT OLD.digest OR NEW.previous_digest IS NOT OLD.previous_digest
        OR NEW.previous_valid_until IS NOT OLD.previous_valid_until OR NEW.revoked_at IS NOT OLD.revoked_at
        OR NEW.expires_at IS NOT OLD.expires_at OR NEW.name IS NOT OLD.name OR NEW.scopes IS NOT OLD.scopes
        OR NEW.preview IS NOT OLD.preview OR NEW.rotated_at IS NOT OLD.rotated_at
        OR NEW.allowed_ips IS NOT OLD.allowed_ips
BEGIN
    INSERT INTO token_changes (token_id, old_digest, old_previous_digest, new_digest, at)
    VALUES (NEW.id, OLD.digest, OLD.previous_digest, NEW.digest, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
