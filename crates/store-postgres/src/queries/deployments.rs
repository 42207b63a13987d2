//! Deployments, their status history, the current deployment of each
//! environment, and the deploy hook deliveries they are waiting on.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_store::*;
use gatepass_store_sql::*;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::{backend, PgStore};

async fn insert_status(tx: &mut PgConnection, report: &StatusReport) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("INSERT INTO deployment_statuses ({STATUS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(report.deployment_id.as_str())
        .bind(report.state.as_str())
        .bind(&report.description)
        .bind(&report.log_url)
        .bind(&report.environment_url)
        .bind(&report.reported_by.id)
        .bind(&report.reported_by.label)
        .bind(to_millis(report.at))
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl DeploymentStore for PgStore {
    async fn create_deployment(&self, deployment: &Deployment, hook: Option<&Delivery>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(deployment.id.as_str())
        .bind(deployment.org_id.as_str())
        .bind(deployment.project_id.as_str())
        .bind(deployment.environment_id.as_str())
        .bind(&deployment.git_ref)
        .bind(&deployment.commit_sha)
        .bind(&deployment.description)
        .bind(deployment.state.as_str())
        .bind(deployment.hook_status.as_str())
        .bind(&deployment.log_url)
        .bind(&deployment.environment_url)
        .bind(&deployment.created_by.id)
        .bind(&deployment.created_by.label)
        .bind(to_millis(deployment.created_at))
        .bind(deployment.started_at.map(to_millis))
        .bind(deployment.finished_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        insert_status(&mut tx, &StatusReport::created(deployment)).await.map_err(backend)?;
        if let Some(hook) = hook {
            super::webhooks::insert_delivery(&mut tx, hook).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn find_deployment(&self, id: DeploymentId) -> StoreResult<Option<Deployment>> {
        let row: Option<DeploymentRow> =
            sqlx::query_as(&format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = $1"))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        convert_one(row)
    }

    async fn list_deployments(&self, project: ProjectId, limit: u32) -> StoreResult<Vec<Deployment>> {
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE project_id = $1 \
             ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(project.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn list_deployments_page(&self, project: ProjectId, page: &PageRequest) -> StoreResult<Vec<Deployment>> {
        let (after_at, after_id) = page_key(page);
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE project_id = $1 \
             AND ($2::bigint IS NULL OR created_at < $2 OR (created_at = $2 AND id > $3)) \
             ORDER BY created_at DESC, id LIMIT $4"
        ))
        .bind(project.as_str())
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn record_status(&self, from: DeploymentState, report: &StatusReport) -> StoreResult<Option<Deployment>> {
        let (started, finished) = report_times(report);
        // The conditional update, the history entry and the environment's
        // pointer commit together or not at all. A concurrent report on the
        // same row waits for this one, then finds the state changed and
        // updates nothing (READ COMMITTED re-checks the WHERE).
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let row: Option<DeploymentRow> = sqlx::query_as(&format!(
            "UPDATE deployments SET status = $1, log_url = COALESCE($2, log_url), \
             environment_url = COALESCE($3, environment_url), started_at = COALESCE(started_at, $4), \
             finished_at = COALESCE($5, finished_at) WHERE id = $6 AND status = $7 RETURNING {DEPLOYMENT_COLUMNS}"
        ))
        .bind(report.state.as_str())
        .bind(&report.log_url)
        .bind(&report.environment_url)
        .bind(started)
        .bind(finished)
        .bind(report.deployment_id.as_str())
        .bind(from.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(deployment) = convert_one::<_, Deployment>(row)? else {
            return Ok(None);
        };
        insert_status(&mut tx, report).await.map_err(backend)?;
        if report.state == DeploymentState::Succeeded {
            sqlx::query("UPDATE environments SET current_deployment_id = $1 WHERE id = $2")
                .bind(deployment.id.as_str())
                .bind(deployment.environment_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Some(deployment))
    }

    async fn list_statuses(&self, id: DeploymentId) -> StoreResult<Vec<StatusReport>> {
        let rows: Vec<StatusReportRow> = sqlx::query_as(&format!(
            "SELECT {STATUS_COLUMNS} FROM deployment_statuses WHERE deployment_id = $1 ORDER BY seq"
        ))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn current_deployments(&self, project: ProjectId) -> StoreResult<Vec<Deployment>> {
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id IN \
             (SELECT current_deployment_id FROM environments WHERE project_id = $1)"
        ))
        .bind(project.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn overdue_deployments(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<Deployment>> {
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE status = 'in_progress' AND started_at <= \
             $1 - 1000 * (SELECT deploy_timeout_secs FROM projects WHERE projects.id = deployments.project_id) \
             ORDER BY started_at, id LIMIT $2"
        ))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn set_hook_status(&self, id: DeploymentId, status: HookStatus) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE deployments SET hook_status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
