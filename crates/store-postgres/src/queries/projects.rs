//! Projects and what hangs off them: environments and branch rules.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use crate::{backend, map_err, PgStore};

const PROJECT_COLUMNS: &str =
    "id, org_id, name, slug, deploy_hook_url, deploy_hook_secret, deploy_timeout_secs, created_at";
const ENVIRONMENT_COLUMNS: &str = "id, project_id, name, created_at";

#[async_trait]
impl ProjectStore for PgStore {
    async fn create_project(&self, project: &Project) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(project.id.as_str())
            .bind(project.org_id.as_str())
            .bind(&project.name)
            .bind(&project.slug)
            .bind(project.deploy_hook.as_ref().map(|h| h.url.as_str()))
            .bind(project.deploy_hook.as_ref().map(|h| h.secret.as_str()))
            .bind(project.deploy_timeout.whole_seconds())
            .bind(to_millis(project.created_at))
            .execute(&self.pool)
            .await
            .map_err(map_err("a project with this slug exists already in the organization"))?;
        Ok(())
    }

    async fn find_project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        let row: Option<ProjectRow> = sqlx::query_as(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn find_projects_by_slug(&self, slug: &str) -> StoreResult<Vec<Project>> {
        let rows: Vec<ProjectRow> = sqlx::query_as(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE slug = $1"))
            .bind(slug)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        convert_all(rows)
    }

    async fn list_projects(&self, org: OrgId) -> StoreResult<Vec<Project>> {
        let rows: Vec<ProjectRow> =
            sqlx::query_as(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = $1 ORDER BY slug"))
                .bind(org.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        convert_all(rows)
    }

    async fn update_project(&self, project: &Project) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE projects SET name = $1, deploy_hook_url = $2, deploy_hook_secret = $3, deploy_timeout_secs = $4 \
             WHERE id = $5",
        )
        .bind(&project.name)
        .bind(project.deploy_hook.as_ref().map(|h| h.url.as_str()))
        .bind(project.deploy_hook.as_ref().map(|h| h.secret.as_str()))
        .bind(project.deploy_timeout.whole_seconds())
        .bind(project.id.as_str())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_project(&self, id: ProjectId, now: OffsetDateTime) -> StoreResult<bool> {
        delete_revoking_tokens(&self.pool, TokenOwner::Project, id.as_str(), now).await
    }
}

#[async_trait]
impl EnvironmentStore for PgStore {
    async fn create_environment(&self, environment: &Environment) -> StoreResult<()> {
        sqlx::query("INSERT INTO environments (id, project_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(environment.id.as_str())
            .bind(environment.project_id.as_str())
            .bind(&environment.name)
            .bind(to_millis(environment.created_at))
            .execute(&self.pool)
            .await
            .map_err(map_err("an environment with this name exists already in the project"))?;
        Ok(())
    }

    async fn find_environment(&self, id: EnvironmentId) -> StoreResult<Option<Environment>> {
        let row: Option<EnvironmentRow> =
            sqlx::query_as(&format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE id = $1"))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        convert_one(row)
    }

    async fn find_environment_by_name(&self, project: ProjectId, name: &str) -> StoreResult<Option<Environment>> {
        let row: Option<EnvironmentRow> = sqlx::query_as(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = $1 AND name = $2"
        ))
        .bind(project.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        convert_one(row)
    }

    async fn list_environments(&self, project: ProjectId) -> StoreResult<Vec<Environment>> {
        let rows: Vec<EnvironmentRow> = sqlx::query_as(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = $1 ORDER BY name"
        ))
        .bind(project.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn delete_environment(&self, id: EnvironmentId, now: OffsetDateTime) -> StoreResult<bool> {
        delete_revoking_tokens(&self.pool, TokenOwner::Environment, id.as_str(), now).await
    }
}

#[async_trait]
impl BranchRuleStore for PgStore {
    async fn add_branch_rule(&self, rule: &BranchRule) -> StoreResult<()> {
        sqlx::query("INSERT INTO branch_rules (id, project_id, pattern, created_at) VALUES ($1, $2, $3, $4)")
            .bind(rule.id.as_str())
            .bind(rule.project_id.as_str())
            .bind(&rule.pattern)
            .bind(to_millis(rule.created_at))
            .execute(&self.pool)
            .await
            .map_err(map_err("the project has this branch rule already"))?;
        Ok(())
    }

    async fn list_branch_rules(&self, project: ProjectId) -> StoreResult<Vec<BranchRule>> {
        let rows: Vec<BranchRuleRow> = sqlx::query_as(
            "SELECT id, project_id, pattern, created_at FROM branch_rules WHERE project_id = $1 ORDER BY pattern",
        )
        .bind(project.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn delete_branch_rule(&self, project: ProjectId, id: BranchRuleId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM branch_rules WHERE project_id = $1 AND id = $2")
            .bind(project.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

/// What a deleted row's tokens reach it through.
#[derive(Clone, Copy)]
enum TokenOwner {
    Project,
    Environment,
}

impl TokenOwner {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            TokenOwner::Project => ("projects", "project_id"),
            TokenOwner::Environment => ("environments", "environment_id"),
        }
    }
}

/// Deletes a project or environment and, in the same transaction, revokes
/// every token that reaches it.
async fn delete_revoking_tokens(
    pool: &sqlx::PgPool,
    owner: TokenOwner,
    id: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let (table, column) = owner.table_and_column();
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query(&format!(
        "UPDATE tokens SET revoked_at = $1, revoked_reason = 'user' WHERE {column} = $2 AND revoked_at IS NULL"
    ))
    .bind(to_millis(now))
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let done =
        sqlx::query(&format!("DELETE FROM {table} WHERE id = $1")).bind(id).execute(&mut *tx).await.map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(done.rows_affected() == 1)
}
