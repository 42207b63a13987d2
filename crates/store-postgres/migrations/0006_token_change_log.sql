-- Every change to a token that verification or its answers depend on (all
-- but last_used_at) gets a sequence number, in commit order, and names the
-- digests a node may have cached for the token. Each node applies the
-- changes since the last sequence it saw (woken by NOTIFY, and reading the
-- log at least every 250 ms), so its cache stays exact without re-reading
-- tokens that did not change; a gap in the sequence tells it that it missed
-- something, and it starts its cache afresh.
--
-- The head is one row: taking the next number locks it until commit, so
-- token changes commit in sequence order and a reader never sees seq N+1
-- before seq N.
CREATE TABLE token_change_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    seq BIGINT NOT NULL
);
INSERT INTO token_change_head (singleton, seq) VALUES (TRUE, 0);

CREATE TABLE token_changes (
    seq BIGINT PRIMARY KEY,
    token_id TEXT COLLATE "C" NOT NULL,
    -- The token's digests before the change (current and previous) and its
    -- current digest after it: every digest a node may have cached,
    -- positively or as unknown.
    old_digest BYTEA,
    old_previous_digest BYTEA,
    new_digest BYTEA,
    at BIGINT NOT NULL
);
CREATE INDEX token_changes_by_time ON token_changes(at);

CREATE FUNCTION gatepass_record_token_change() RETURNS trigger AS $$
DECLARE
    next_seq BIGINT;
BEGIN
    UPDATE token_change_head SET seq = seq + 1 RETURNING seq INTO next_seq;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO token_changes (seq, token_id, old_digest, old_previous_digest, new_digest, at)
        VALUES (next_seq, OLD.id, OLD.digest, OLD.previous_digest, NULL,
                (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT);
    ELSE
        INSERT INTO token_changes (seq, token_id, old_digest, old_previous_digest, new_digest, at)
        VALUES (next_seq, NEW.id, OLD.digest, OLD.previous_digest, NEW.digest,
                (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT);
    END IF;
    -- One wake-up per transaction: identical notifications are collapsed.
    PERFORM pg_notify('gatepass_token_changes', 'changed');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION gatepass_record_token_change();
CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens FOR EACH ROW
    EXECUTE FUNCTION gatepass_record_token_change();
