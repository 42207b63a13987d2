//! Projects, environments and branch tracking rules.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use super::*;
use crate::{backend, map_err, SqliteStore};

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn create_project(&self, project: &Project) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(project.id.as_str())
            .bind(project.org_id.as_str())
            .bind(&project.name)
            .bind(&project.slug)
            .bind(project.deploy_hook.as_ref().map(|h| h.url.as_str()))
            .bind(project.deploy_hook.as_ref().map(|h| h.secret.as_str()))
            .bind(project.deploy_timeout.whole_seconds())
            .bind(to_millis(project.created_at))
            .execute(&self.writer)
            .await
            .map_err(map_err("a project with this slug exists already in the organization"))?;
        Ok(())
    }

    async fn find_project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        let row: Option<ProjectRow> = sqlx::query_as(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn find_projects_by_slug(&self, slug: &str) -> StoreResult<Vec<Project>> {
        let rows: Vec<ProjectRow> = sqlx::query_as(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE slug = ?"))
            .bind(slug)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        convert_all(rows)
    }

    async fn list_projects(&self, org: OrgId) -> StoreResult<Vec<Project>> {
        let rows: Vec<ProjectRow> =
            sqlx::query_as(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = ? ORDER BY slug"))
                .bind(org.as_str())
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        convert_all(rows)
    }

    async fn update_project(&self, project: &Project) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE projects SET name = ?, deploy_hook_url = ?, deploy_hook_secret = ?, deploy_timeout_secs = ? \
             WHERE id = ?",
        )
        .bind(&project.name)
        .bind(project.deploy_hook.as_ref().map(|h| h.url.as_str()))
        .bind(project.deploy_hook.as_ref().map(|h| h.secret.as_str()))
        .bind(project.deploy_timeout.whole_seconds())
        .bind(project.id.as_str())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_project(&self, id: ProjectId, now: OffsetDateTime) -> StoreResult<bool> {
        delete_revoking_tokens(&self.writer, TokenOwner::Project, id.as_str(), now).await
    }
}

const ENVIRONMENT_COLUMNS: &str = "id, project_id, name, created_at";

#[async_trait]
impl EnvironmentStore for SqliteStore {
    async fn create_environment(&self, environment: &Environment) -> StoreResult<()> {
        sqlx::query("INSERT INTO environments (id, project_id, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(environment.id.as_str())
            .bind(environment.project_id.as_str())
            .bind(&environment.name)
            .bind(to_millis(environment.created_at))
            .execute(&self.writer)
            .await
            .map_err(map_err("an environment with this name exists already in the project"))?;
        Ok(())
    }

    async fn find_environment(&self, id: EnvironmentId) -> StoreResult<Option<Environment>> {
        let row: Option<EnvironmentRow> =
            sqlx::query_as(&format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE id = ?"))
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        convert_one(row)
    }

    async fn find_environment_by_name(&self, project: ProjectId, name: &str) -> StoreResult<Option<Environment>> {
        let row: Option<EnvironmentRow> = sqlx::query_as(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = ? AND name = ?"
        ))
        .bind(project.as_str())
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        convert_one(row)
    }

    async fn list_environments(&self, project: ProjectId) -> StoreResult<Vec<Environment>> {
        let rows: Vec<EnvironmentRow> = sqlx::query_as(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = ? ORDER BY name"
        ))
        .bind(project.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn delete_environment(&self, id: EnvironmentId, now: OffsetDateTime) -> StoreResult<bool> {
        delete_revoking_tokens(&self.writer, TokenOwner::Environment, id.as_str(), now).await
    }
}

#[async_trait]
impl BranchRuleStore for SqliteStore {
    async fn add_branch_rule(&self, rule: &BranchRule) -> StoreResult<()> {
        sqlx::query("INSERT INTO branch_rules (id, project_id, pattern, created_at) VALUES (?, ?, ?, ?)")
            .bind(rule.id.as_str())
            .bind(rule.project_id.as_str())
            .bind(&rule.pattern)
            .bind(to_millis(rule.created_at))
            .execute(&self.writer)
            .await
            .map_err(map_err("the project has this branch rule already"))?;
        Ok(())
    }

    async fn list_branch_rules(&self, project: ProjectId) -> StoreResult<Vec<BranchRule>> {
        let rows: Vec<BranchRuleRow> = sqlx::query_as(
            "SELECT id, project_id, pattern, created_at FROM branch_rules WHERE project_id = ? ORDER BY pattern",
        )
        .bind(project.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn delete_branch_rule(&self, project: ProjectId, id: BranchRuleId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM branch_rules WHERE project_id = ? AND id = ?")
            .bind(project.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
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
    pool: &sqlx::SqlitePool,
    owner: TokenOwner,
    id: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let (table, column) = owner.table_and_column();
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query(&format!(
        "UPDATE tokens SET revoked_at = ?, revoked_reason = 'user' WHERE {column} = ? AND revoked_at IS NULL"
    ))
    .bind(to_millis(now))
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let done =
        sqlx::query(&format!("DELETE FROM {table} WHERE id = ?")).bind(id).execute(&mut *tx).await.map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(done.rows_affected() == 1)
}
