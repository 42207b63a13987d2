-- Last-used times move out of the tokens table into a narrow one of their own.
--
-- A node whose traffic is spread over many tokens flushes one last-used row
-- per token it saw every interval (200,000 rows every 30 s in the wide-traffic
-- benchmark). In PostgreSQL every UPDATE writes a whole new row version, and
-- on the tokens table that meant a wide row, new entries in its seven indexes
-- (a full page leaves no room for a heap-only update), and the change log's
-- trigger comparing every other column: about 7 s of database CPU per 200,000
-- rows. Here a row is an id and a time, on pages kept half empty so an update
-- stays on its page (a heap-only tuple, no index entry): under 1 s for the same
-- flush. SQLite's store made the same move (its migration 0010).
CREATE TABLE token_last_used (
    token_id TEXT COLLATE "C" PRIMARY KEY REFERENCES tokens(id) ON DELETE CASCADE,
    at BIGINT NOT NULL
) WITH (fillfactor = 50);
INSERT INTO token_last_used (token_id, at) SELECT id, last_used_at FROM tokens WHERE last_used_at IS NOT NULL;

-- With last_used_at gone every column of a token matters to verification or
-- to its answers, so the change log records any update that changes the row.
DROP TRIGGER tokens_changed ON tokens;
ALTER TABLE tokens DROP COLUMN last_used_at;
CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION gatepass_record_token_change();
