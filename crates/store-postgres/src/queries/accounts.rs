//! Orgs, users, memberships and sessions.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::role::Role;
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use super::ORG_COLUMNS;
use crate::{backend, map_err, PgStore};

const USER_COLUMNS: &str = "id, email, password_hash, instance_admin, created_at";

#[async_trait]
impl OrgStore for PgStore {
    async fn create_org(&self, org: &Org, owner: UserId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO orgs (id, name, slug, plan, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(&org.slug)
            .bind(org.plan.as_str())
            .bind(to_millis(org.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err("an organization with this slug exists already"))?;
        sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(org.id.as_str())
            .bind(owner.as_str())
            .bind(to_millis(org.created_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn find_org(&self, id: OrgId) -> StoreResult<Option<Org>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn find_org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        let rows: Vec<OrgRow> = sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY slug"))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        convert_all(rows)
    }

    async fn set_plan(&self, id: OrgId, plan: Plan) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE orgs SET plan = $1 WHERE id = $2")
            .bind(plan.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rename_org(&self, id: OrgId, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE orgs SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_org(&self, id: OrgId, now: OffsetDateTime) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Revoked before they go, so no reader ever sees one of them active
        // without its org; the cascade from `orgs` then removes the rows.
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE org_id = $2 AND revoked_at IS NULL")
            .bind(to_millis(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done =
            sqlx::query("DELETE FROM orgs WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await.map_err(backend)?;
        // The change log's triggers record each token's revocation and
        // deletion, and wake every node at commit.
        tx.commit().await.map_err(backend).map(|()| done.rows_affected() == 1)
    }

    async fn org_policy(&self, id: OrgId) -> StoreResult<gatepass_core::policy::OrgPolicy> {
        let row: Option<(Option<i64>, bool)> =
            sqlx::query_as("SELECT max_token_lifetime_secs, require_expiry FROM org_policies WHERE org_id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(org_policy(row))
    }

    async fn set_org_policy(&self, id: OrgId, policy: &gatepass_core::policy::OrgPolicy) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO org_policies (org_id, max_token_lifetime_secs, require_expiry) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id) DO UPDATE SET max_token_lifetime_secs = $2, require_expiry = $3",
        )
        .bind(id.as_str())
        .bind(policy.max_token_lifetime.map(|max| max.whole_seconds()))
        .bind(policy.require_expiry)
        .execute(&self.pool)
        .await
        .map_err(map_err("organization not found"))?;
        Ok(())
    }

    async fn count_tokens_out_of_policy(
        &self,
        id: OrgId,
        policy: &gatepass_core::policy::OrgPolicy,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        if policy.is_empty() {
            return Ok(0);
        }
        let (no_expiry_breaks, max_millis) = policy_binds(policy);
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens WHERE org_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) AND ((expires_at IS NULL AND $3) \
             OR ($4::BIGINT IS NOT NULL AND expires_at - COALESCE(rotated_at, created_at) > $4::BIGINT))",
        )
        .bind(id.as_str())
        .bind(to_millis(now))
        .bind(no_expiry_breaks)
        .bind(max_millis)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(count as u64)
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, instance_admin, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id.as_str())
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.instance_admin)
        .bind(to_millis(user.created_at))
        .execute(&self.pool)
        .await
        .map_err(map_err("a user with this email exists already"))?;
        Ok(())
    }

    async fn create_first_user(&self, user: &User) -> StoreResult<bool> {
        // Under READ COMMITTED two concurrent setups would each see no users
        // and both insert. SHARE ROW EXCLUSIVE conflicts with itself and with
        // every insert, but not with plain reads: setups (and any concurrent
        // create_user) queue here, and the NOT EXISTS, a statement started
        // after the lock is held, sees whatever they committed.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.map_err(backend)?;
        let done = sqlx::query(
            "INSERT INTO users (id, email, password_hash, instance_admin, created_at) \
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(user.id.as_str())
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.instance_admin)
        .bind(to_millis(user.created_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await.map_err(backend)?;
        Ok(count as u64)
    }
}

#[async_trait]
impl MemberStore for PgStore {
    async fn add_member(&self, org: OrgId, user: UserId, role: Role, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .bind(to_millis(at))
            .execute(&self.pool)
            .await
            .map_err(map_err("this user is a member already"))?;
        Ok(())
    }

    async fn set_member_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT m.org_id, m.user_id, u.email, m.role, m.created_at FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<(Org, Role)>> {
        let rows: Vec<OrgWithRoleRow> = sqlx::query_as(&format!(
            "SELECT {ORG_COLUMNS}, m.role FROM memberships m JOIN orgs ON orgs.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY orgs.slug"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, credential_digest, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.id.as_str())
        .bind(session.user_id.as_str())
        .bind(&session.credential_digest[..])
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.expires_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn find_session(&self, digest: &[u8; 32], now: OffsetDateTime) -> StoreResult<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, user_id, credential_digest, created_at, expires_at FROM sessions \
             WHERE credential_digest = $1 AND expires_at > $2",
        )
        .bind(&digest[..])
        .bind(to_millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        convert_one(row)
    }

    async fn delete_session(&self, digest: &[u8; 32]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE credential_digest = $1")
            .bind(&digest[..])
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
