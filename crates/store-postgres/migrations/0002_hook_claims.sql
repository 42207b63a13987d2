-- When a node last took on a deployment's pending deploy hook delivery. The
-- creating node claims it at creation; a claim older than any node's retries
-- take was left by a node that stopped, and a sweeping node resumes it.
ALTER TABLE deployments ADD COLUMN hook_claimed_at BIGINT NOT NULL DEFAULT 0;
UPDATE deployments SET hook_claimed_at = created_at;
CREATE INDEX deployments_pending_hooks ON deployments(hook_claimed_at) WHERE hook_status = 'pending';
