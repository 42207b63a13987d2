-- Every change to a token that verification or its answers depend on (all
-- but last_used_at) gets a sequence number and names the digests a node may
-- have cached for the token. One gatepass process serves a data directory
-- and drops what it changes from its own cache at once, so it never needs
-- to read this log; it is kept for parity with PostgreSQL, where every
-- node follows it, and so that both backends pass one contract.
CREATE TABLE token_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL,
    old_digest BLOB,
    old_previous_digest BLOB,
    new_digest BLOB,
    at INTEGER NOT NULL
);
CREATE INDEX token_changes_by_time ON token_changes(at);

CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens FOR EACH ROW
    WHEN NEW.digest IS NOT OLD.digest OR NEW.previous_digest IS NOT OLD.previous_digest
        OR NEW.previous_valid_until IS NOT OLD.previous_valid_until OR NEW.revoked_at IS NOT OLD.revoked_at
        OR NEW.expires_at IS NOT OLD.expires_at OR NEW.name IS NOT OLD.name OR NEW.scopes IS NOT OLD.scopes
        OR NEW.preview IS NOT OLD.preview OR NEW.rotated_at IS NOT OLD.rotated_at
BEGIN
    INSERT INTO token_changes (token_id, old_digest, old_previous_digest, new_digest, at)
    VALUES (NEW.id, OLD.digest, OLD.previous_digest, NEW.digest, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens FOR EACH ROW
BEGIN
    INSERT INTO token_changes (token_id, old_digest, old_previous_digest, new_digest, at)
    VALUES (OLD.id, OLD.digest, OLD.previous_digest, NULL, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
