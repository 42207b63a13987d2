//! Trust policies, and the tokens they mint.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_store::*;
use gatepass_store_sql::*;

use super::tokens::insert_token_row;
use crate::{backend, map_err, PgStore};

/// A policy whose project or environment is gone is "missing", not a backend error.
fn missing_or(err: sqlx::Error) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => StoreError::Missing("project or environment"),
        _ => map_err("trust policy id collision")(err),
    }
}

#[async_trait]
impl TrustStore for PgStore {
    async fn create_trust_policy(&self, policy: &TrustPolicy) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO trust_policies ({TRUST_POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(policy.id.as_str())
        .bind(policy.org_id.as_str())
        .bind(policy.project_id.as_str())
        .bind(policy.environment_id.map(|e| e.to_string()))
        .bind(&policy.issuer)
        .bind(&policy.audience)
        .bind(claims_column(&policy.claims))
        .bind(policy.scopes.to_list_string())
        .bind(policy.max_ttl.whole_seconds())
        .bind(&policy.created_by.id)
        .bind(&policy.created_by.label)
        .bind(to_millis(policy.created_at))
        .execute(&self.pool)
        .await
        .map_err(missing_or)?;
        Ok(())
    }

    async fn list_trust_policies(&self, project: ProjectId) -> StoreResult<Vec<TrustPolicy>> {
        let rows: Vec<TrustPolicyRow> = sqlx::query_as(&format!(
            "SELECT {TRUST_POLICY_COLUMNS} FROM trust_policies WHERE project_id = $1 ORDER BY created_at, id"
        ))
        .bind(project.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn trust_policies_for_issuer(&self, issuer: &str) -> StoreResult<Vec<TrustPolicy>> {
        let rows: Vec<TrustPolicyRow> = sqlx::query_as(&format!(
            "SELECT {TRUST_POLICY_COLUMNS} FROM trust_policies WHERE issuer = $1 ORDER BY created_at, id"
        ))
        .bind(issuer)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn delete_trust_policy(&self, project: ProjectId, id: TrustPolicyId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM trust_policies WHERE id = $1 AND project_id = $2")
            .bind(id.as_str())
            .bind(project.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn mint_token(&self, token: &NewToken, jti: &UsedJti) -> StoreResult<bool> {
        // Two nodes racing on one ID token: the second INSERT waits for the
        // first transaction on the primary key, then inserts nothing.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("DELETE FROM oidc_used_jtis WHERE until < $1")
            .bind(to_millis(token.created_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let recorded =
            sqlx::query("INSERT INTO oidc_used_jtis (issuer, jti, until) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(&jti.issuer)
                .bind(&jti.jti)
                .bind(to_millis(jti.until))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        if recorded.rows_affected() == 0 {
            return Ok(false);
        }
        insert_token_row(&mut tx, token).await.map_err(map_err("token digest collision"))?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
