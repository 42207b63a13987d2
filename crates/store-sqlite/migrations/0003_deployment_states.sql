-- Deployments that finish. `deployments.status` now holds the deployment's
-- state: queued, in_progress, succeeded, failed, cancelled or archived.
ALTER TABLE deployments ADD COLUMN log_url TEXT;
ALTER TABLE deployments ADD COLUMN environment_url TEXT;
ALTER TABLE deployments ADD COLUMN started_at INTEGER;
ALTER TABLE deployments ADD COLUMN finished_at INTEGER;
-- The deploy timeout sweep looks only at deployments in progress.
CREATE INDEX deployments_in_progress ON deployments(started_at) WHERE status = 'in_progress';

-- How long a deployment may stay in_progress before it is failed as timed out.
ALTER TABLE projects ADD COLUMN deploy_timeout_secs INTEGER NOT NULL DEFAULT 3600;

-- What is live: the deployment that last succeeded in the environment.
-- No foreign key: deployments go only with their project, and so does this row.
ALTER TABLE environments ADD COLUMN current_deployment_id TEXT;

-- Every state a deployment was reported in, and by whom; `seq` orders
-- reports made within the same millisecond.
CREATE TABLE deployment_statuses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    description TEXT NOT NULL,
    log_url TEXT,
    environment_url TEXT,
    reported_by_id TEXT NOT NULL,
    reported_by_label TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX deployment_statuses_by_deployment ON deployment_statuses(deployment_id, seq);

-- Deployments made before the history was kept start it as they were made.
INSERT INTO deployment_statuses (deployment_id, state, description, reported_by_id, reported_by_label, at)
    SELECT id, 'queued', description, created_by_id, created_by_label, created_at FROM deployments ORDER BY created_at;
INSERT INTO deployment_statuses (deployment_id, state, description, reported_by_id, reported_by_label, at)
    SELECT id, 'archived', 'archived before the status history was kept', 'system', 'gatepass', created_at
    FROM deployments WHERE status = 'archived' ORDER BY created_at;
