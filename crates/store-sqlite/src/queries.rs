//! The SQL of every store trait, for SQLite.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::role::Role;
use gatepass_core::token::TokenDigest;
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use crate::{backend, map_err, SqliteStore};

const TOKEN_COLUMNS: &str = "id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
    previous_digest, previous_valid_until, created_by_id, created_by_label, created_at, rotated_at, \
    last_used_at, expires_at, revoked_at";
const ORG_COLUMNS: &str = "orgs.id, orgs.name, orgs.slug, orgs.plan, orgs.created_at";
const PROJECT_COLUMNS: &str = "id, org_id, name, slug, deploy_hook_url, deploy_hook_secret, created_at";
const DEPLOYMENT_COLUMNS: &str = "id, org_id, project_id, environment_id, git_ref, commit_sha, description, \
    status, hook_status, created_by_id, created_by_label, created_at";

/// The condition for "counts against the plan": not revoked, not expired at `?`.
const ACTIVE_AT: &str = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)";

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: &Org, owner: UserId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO orgs (id, name, slug, plan, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(&org.slug)
            .bind(org.plan.as_str())
            .bind(to_millis(org.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err("an organization with this slug exists already"))?;
        sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)")
            .bind(org.id.as_str())
            .bind(owner.as_str())
            .bind(to_millis(org.created_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn find_org(&self, id: OrgId) -> StoreResult<Option<Org>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn find_org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE slug = ?"))
            .bind(slug)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        let rows: Vec<OrgRow> = sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY slug"))
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        convert_all(rows)
    }

    async fn set_plan(&self, id: OrgId, plan: Plan) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE orgs SET plan = ? WHERE id = ?")
            .bind(plan.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

const USER_COLUMNS: &str = "id, email, password_hash, instance_admin, created_at";

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query("INSERT INTO users (id, email, password_hash, instance_admin, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(user.id.as_str())
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(user.instance_admin)
            .bind(to_millis(user.created_at))
            .execute(&self.writer)
            .await
            .map_err(map_err("a user with this email exists already"))?;
        Ok(())
    }

    async fn create_first_user(&self, user: &User) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO users (id, email, password_hash, instance_admin, created_at) \
             SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(user.id.as_str())
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.instance_admin)
        .bind(to_millis(user.created_at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
            .bind(email)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.reader).await.map_err(backend)?;
        Ok(count as u64)
    }
}

#[async_trait]
impl MemberStore for SqliteStore {
    async fn add_member(&self, org: OrgId, user: UserId, role: Role, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)")
            .bind(org.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .bind(to_millis(at))
            .execute(&self.writer)
            .await
            .map_err(map_err("this user is a member already"))?;
        Ok(())
    }

    async fn set_member_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ?")
            .bind(role.as_str())
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = ? AND user_id = ?")
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT m.org_id, m.user_id, u.email, m.role, m.created_at FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY u.email",
        )
        .bind(org.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<(Org, Role)>> {
        let rows: Vec<OrgWithRoleRow> = sqlx::query_as(&format!(
            "SELECT {ORG_COLUMNS}, m.role FROM memberships m JOIN orgs ON orgs.id = m.org_id \
             WHERE m.user_id = ? ORDER BY orgs.slug"
        ))
        .bind(user.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, credential_digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(session.id.as_str())
        .bind(session.user_id.as_str())
        .bind(&session.credential_digest[..])
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.expires_at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn find_session(&self, digest: &[u8; 32], now: OffsetDateTime) -> StoreResult<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, user_id, credential_digest, created_at, expires_at FROM sessions \
             WHERE credential_digest = ? AND expires_at > ?",
        )
        .bind(&digest[..])
        .bind(to_millis(now))
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        convert_one(row)
    }

    async fn delete_session(&self, digest: &[u8; 32]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE credential_digest = ?")
            .bind(&digest[..])
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn create_project(&self, project: &Project) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"))
            .bind(project.id.as_str())
            .bind(project.org_id.as_str())
            .bind(&project.name)
            .bind(&project.slug)
            .bind(project.deploy_hook.as_ref().map(|h| h.url.as_str()))
            .bind(project.deploy_hook.as_ref().map(|h| h.secret.as_str()))
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
        let done =
            sqlx::query("UPDATE projects SET name = ?, deploy_hook_url = ?, deploy_hook_secret = ? WHERE id = ?")
                .bind(&project.name)
                .bind(project.deploy_hook.as_ref().map(|h| h.url.as_str()))
                .bind(project.deploy_hook.as_ref().map(|h| h.secret.as_str()))
                .bind(project.id.as_str())
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_project(&self, id: ProjectId, now: OffsetDateTime) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE project_id = ? AND revoked_at IS NULL")
            .bind(to_millis(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query("DELETE FROM projects WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE environment_id = ? AND revoked_at IS NULL")
            .bind(to_millis(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query("DELETE FROM environments WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
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

/// Writes one token row; shared by `insert_token` and the bulk import.
pub(crate) async fn insert_token_row(conn: &mut sqlx::SqliteConnection, token: &NewToken) -> Result<(), sqlx::Error> {
    let (level, project, environment) = reach_columns(token.reach);
    sqlx::query(
        "INSERT INTO tokens (id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
         created_by_id, created_by_label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token.id.as_str())
    .bind(token.org_id.as_str())
    .bind(&token.name)
    .bind(level)
    .bind(project)
    .bind(environment)
    .bind(token.scopes.to_list_string())
    .bind(&token.preview)
    .bind(&token.digest.as_bytes()[..])
    .bind(&token.created_by.id)
    .bind(&token.created_by.label)
    .bind(to_millis(token.created_at))
    .bind(token.expires_at.map(to_millis))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: &NewToken) -> StoreResult<()> {
        // The single writer connection makes this transaction exclusive among
        // gatepass writers; busy_timeout covers other processes.
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let plan: Option<String> = sqlx::query_scalar("SELECT plan FROM orgs WHERE id = ?")
            .bind(token.org_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let plan = plan.and_then(|p| Plan::parse(&p)).ok_or(StoreError::Missing("organization"))?;
        if let Some(limit) = plan.active_token_limit() {
            let active: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tokens WHERE org_id = ? AND {ACTIVE_AT}"))
                    .bind(token.org_id.as_str())
                    .bind(to_millis(token.created_at))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
            if active >= i64::from(limit) {
                return Err(StoreError::PlanLimit { plan, limit });
            }
        }
        insert_token_row(&mut tx, token).await.map_err(map_err("token digest collision"))?;
        tx.commit().await.map_err(backend)
    }

    async fn find_token_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<TokenRecord>> {
        let bytes = &digest.as_bytes()[..];
        let row: Option<TokenRow> =
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE digest = ? OR previous_digest = ?"))
                .bind(bytes)
                .bind(bytes)
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        convert_one(row)
    }

    async fn find_token(&self, id: TokenId) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn list_tokens(&self, org: OrgId, filter: TokenFilter) -> StoreResult<Vec<TokenRecord>> {
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ? \
             AND (? IS NULL OR project_id = ?) AND (? OR revoked_at IS NULL) ORDER BY created_at DESC, id"
        ))
        .bind(org.as_str())
        .bind(filter.project.map(|p| p.to_string()))
        .bind(filter.project.map(|p| p.to_string()))
        .bind(filter.include_revoked)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn count_active_tokens(&self, org: OrgId, now: OffsetDateTime) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tokens WHERE org_id = ? AND {ACTIVE_AT}"))
            .bind(org.as_str())
            .bind(to_millis(now))
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        Ok(count as u64)
    }

    async fn count_tokens(&self) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&self.reader).await.map_err(backend)?;
        Ok(count as u64)
    }

    async fn rotate_token(&self, id: TokenId, rotation: &Rotation) -> StoreResult<bool> {
        let keep_previous = rotation.previous_valid_until.is_some();
        let done = sqlx::query(
            "UPDATE tokens SET previous_digest = CASE WHEN ? THEN digest ELSE NULL END, \
             previous_valid_until = ?, digest = ?, preview = ?, rotated_at = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(keep_previous)
        .bind(rotation.previous_valid_until.map(to_millis))
        .bind(&rotation.digest.as_bytes()[..])
        .bind(&rotation.preview)
        .bind(to_millis(rotation.at))
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(map_err("token digest collision"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_token(&self, id: TokenId, at: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_token(&self, id: TokenId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM tokens WHERE id = ?")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_last_used(&self, uses: &[(TokenId, OffsetDateTime)]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        for (id, at) in uses {
            sqlx::query("UPDATE tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?")
                .bind(to_millis(*at))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

#[async_trait]
impl DeploymentStore for SqliteStore {
    async fn create_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(deployment.id.as_str())
        .bind(deployment.org_id.as_str())
        .bind(deployment.project_id.as_str())
        .bind(deployment.environment_id.as_str())
        .bind(&deployment.git_ref)
        .bind(&deployment.commit_sha)
        .bind(&deployment.description)
        .bind(deployment.status.as_str())
        .bind(deployment.hook_status.as_str())
        .bind(&deployment.created_by.id)
        .bind(&deployment.created_by.label)
        .bind(to_millis(deployment.created_at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn find_deployment(&self, id: DeploymentId) -> StoreResult<Option<Deployment>> {
        let row: Option<DeploymentRow> =
            sqlx::query_as(&format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?"))
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        convert_one(row)
    }

    async fn list_deployments(&self, project: ProjectId, limit: u32) -> StoreResult<Vec<Deployment>> {
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE project_id = ? ORDER BY created_at DESC, id LIMIT ?"
        ))
        .bind(project.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn set_deployment_status(&self, id: DeploymentId, status: DeploymentStatus) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE deployments SET status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_hook_status(&self, id: DeploymentId, status: HookStatus) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE deployments SET hook_status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (id, org_id, actor_id, actor_label, action, target, client_ip, details, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event.id.as_str())
        .bind(event.org_id.map(|o| o.to_string()))
        .bind(&event.actor.id)
        .bind(&event.actor.label)
        .bind(&event.action)
        .bind(&event.target)
        .bind(&event.client_ip)
        .bind(event.details.to_string())
        .bind(to_millis(event.at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_events(&self, org: Option<OrgId>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let rows: Vec<AuditEventRow> = sqlx::query_as(
            "SELECT id, org_id, actor_id, actor_label, action, target, client_ip, details, at FROM audit_events \
             WHERE org_id IS ? ORDER BY at DESC, id LIMIT ?",
        )
        .bind(org.map(|o| o.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }
}

#[async_trait]
impl SettingStore for SqliteStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl TokenChangeFeed for SqliteStore {
    /// One process owns an SQLite file, so there are no other nodes to hear from.
    async fn subscribe_token_changes(&self) -> StoreResult<Option<TokenChanges>> {
        Ok(None)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(backend)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
