-- Last-used times move out of the tokens table into a narrow one of their own.
--
-- A node whose traffic is spread over many tokens flushes one last-used row
-- per token it saw every interval (200,000 rows every 30 s in the wide-traffic
-- benchmark), on the one writer connection. On the tokens table that rewrote
-- wide rows spread over some 15,000 pages: about 2 s of the writer per
-- 200,000 rows, while every other write waited. Here a row is an id and a
-- time, about 80 to a page, kept in id order (WITHOUT ROWID): under 0.2 s for
-- the same flush. PostgreSQL's store made the same move (its migration 0010).
CREATE TABLE token_last_used (
    token_id TEXT PRIMARY KEY REFERENCES tokens(id) ON DELETE CASCADE,
    at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO token_last_used (token_id, at) SELECT id, last_used_at FROM tokens WHERE last_used_at IS NOT NULL;
ALTER TABLE tokens DROP COLUMN last_used_at;
