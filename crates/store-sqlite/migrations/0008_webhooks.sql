-- Org webhooks (SPEC 6.4) and their outbox.
--
-- An endpoint subscribes to event types (space-separated, or "*"). While a
-- secret rotation is fresh, deliveries are signed with both secrets.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until INTEGER,
    disabled_at INTEGER,
    disabled_reason TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhooks_by_org ON webhooks(org_id, created_at);

-- The outbox: one row per event per subscribed endpoint (webhook_id), or
-- per deployment for its project's deploy hook (deployment_id), written in
-- the transaction that records the event or the deployment. A node claims
-- due rows by moving claimed_until past the longest attempt; a claim that
-- runs out belonged to a node that stopped, and any node takes the row
-- over. This replaces the deploy hook's own claim (0002's hook_claimed_at).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT REFERENCES webhooks(id) ON DELETE CASCADE,
    deployment_id TEXT REFERENCES deployments(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);
CREATE INDEX webhook_deliveries_by_deployment ON webhook_deliveries(deployment_id) WHERE deployment_id IS NOT NULL;

-- Deploy hook deliveries pending at the upgrade have no stored body to
-- send from: they are marked failed (the deployment itself is untouched).
UPDATE deployments SET hook_status = 'failed' WHERE hook_status = 'pending';
DROP INDEX deployments_pending_hooks;
ALTER TABLE deployments DROP COLUMN hook_claimed_at;

CREATE TABLE webhook_delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- The reminder sweep reads the unrevoked tokens that expire within 30 days.
CREATE INDEX tokens_by_expiry ON tokens(expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;

-- The expiry reminder thresholds (days) already sent per token: the primary
-- key makes the sweep idempotent across restarts and nodes.
CREATE TABLE token_expiry_reminders (
    token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    days INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (token_id, days)
);
