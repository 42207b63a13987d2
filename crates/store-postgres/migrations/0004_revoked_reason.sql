-- Why a token was revoked ('user', 'leaked', 'reported', 'parent_revoked',
-- 'policy'), and, when a secret scanner found it, where: the URL and the
-- kind of place (`content`, `commit`…) its alert named. Every token revoked
-- before this migration was revoked by a user.
ALTER TABLE tokens ADD COLUMN revoked_reason TEXT;
ALTER TABLE tokens ADD COLUMN leak_url TEXT;
ALTER TABLE tokens ADD COLUMN leak_source TEXT;
UPDATE tokens SET revoked_reason = 'user' WHERE revoked_at IS NOT NULL;
