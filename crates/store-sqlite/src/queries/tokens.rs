//! Deployment tokens.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::policy::MAX_CHILDREN;
use gatepass_core::token::{RevokedReason, TokenDigest};
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use super::*;
use crate::{backend, map_err, SqliteStore};

/// Last-used rows written by one statement (two parameters each, far below
/// SQLite's limit of 32,766).
const LAST_USED_ROWS_PER_STATEMENT: usize = 500;

/// Writes one token row; shared by `insert_token` and the bulk import.
pub(crate) async fn insert_token_row(conn: &mut sqlx::SqliteConnection, token: &NewToken) -> Result<(), sqlx::Error> {
    let (level, project, environment) = reach_columns(token.reach);
    sqlx::query(
        "INSERT INTO tokens (id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
         created_by_id, created_by_label, created_at, expires_at, allowed_ips, parent_id, salt_fingerprint, source) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .bind(token.allowed_ips.to_stored())
    .bind(token.parent_id.map(|p| p.to_string()))
    .bind(&token.salt_fingerprint)
    .bind(token.source.as_str())
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
        if let Some(parent) = token.parent_id {
            let live_parent: Option<i64> =
                sqlx::query_scalar(&format!("SELECT 1 FROM tokens WHERE id = ?2 AND {ACTIVE_AT_1}"))
                    .bind(to_millis(token.created_at))
                    .bind(parent.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            if live_parent.is_none() {
                return Err(StoreError::Missing("parent token"));
            }
            let children: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tokens WHERE parent_id = ?2 AND {ACTIVE_AT_1}"))
                    .bind(to_millis(token.created_at))
                    .bind(parent.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
            if children >= i64::from(MAX_CHILDREN) {
                return Err(StoreError::ChildLimit { limit: MAX_CHILDREN });
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
             AND (?2 IS NULL OR project_id = ?2) AND (?3 OR revoked_at IS NULL) AND (?4 IS NULL OR level = ?4) \
             ORDER BY created_at DESC, id"
        ))
        .bind(org.as_str())
        .bind(filter.project.map(|p| p.to_string()))
        .bind(filter.include_revoked)
        .bind(filter.level.map(|level| level.as_str()))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn list_tokens_page(
        &self,
        org: OrgId,
        filter: TokenFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<TokenRecord>> {
        let (after_at, after_id) = page_key(page);
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 \
             AND (?2 IS NULL OR project_id = ?2) AND (?3 OR revoked_at IS NULL) AND (?7 IS NULL OR level = ?7) \
             AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND id > ?5)) \
             ORDER BY created_at DESC, id LIMIT ?6"
        ))
        .bind(org.as_str())
        .bind(filter.project.map(|p| p.to_string()))
        .bind(filter.include_revoked)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page.limit))
        .bind(filter.level.map(|level| level.as_str()))
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
             previous_valid_until = ?, digest = ?, preview = ?, rotated_at = ?, salt_fingerprint = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(keep_previous)
        .bind(rotation.previous_valid_until.map(to_millis))
        .bind(&rotation.digest.as_bytes()[..])
        .bind(&rotation.preview)
        .bind(to_millis(rotation.at))
        .bind(&rotation.salt_fingerprint)
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(map_err("token digest collision"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_token(&self, id: TokenId, at: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?), \
             revoked_reason = COALESCE(revoked_reason, ?) WHERE id = ?",
        )
        .bind(to_millis(at))
        .bind(RevokedReason::User.as_str())
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_tokens(&self, tokens: &[TokenToRevoke], revocation: Revocation) -> StoreResult<Vec<TokenId>> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let mut revoked = Vec::new();
        for token in tokens {
            let (url, source) = leak_columns(token);
            let done = sqlx::query(
                "UPDATE tokens SET revoked_at = ?, revoked_reason = ?, leak_url = ?, leak_source = ? \
                 WHERE id = ? AND revoked_at IS NULL",
            )
            .bind(to_millis(revocation.at))
            .bind(revocation.reason.as_str())
            .bind(url)
            .bind(source)
            .bind(token.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                revoked.push(token.id);
            }
        }
        for token in tokens {
            revoked.extend(revoke_descendants_in(&mut tx, token.id, revocation.at).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(revoked)
    }

    async fn revoke_descendants(&self, parent: TokenId, at: OffsetDateTime) -> StoreResult<Vec<TokenId>> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let revoked = revoke_descendants_in(&mut tx, parent, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(revoked)
    }

    async fn update_token(&self, id: TokenId, update: &TokenUpdate) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET name = COALESCE(?, name), allowed_ips = CASE WHEN ? THEN ? ELSE allowed_ips END \
             WHERE id = ?",
        )
        .bind(update.name.as_deref())
        .bind(update.allowed_ips.is_some())
        .bind(update.allowed_ips.as_ref().and_then(|ips| ips.to_stored()))
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rehash_token(&self, id: TokenId, rehash: &Rehash) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET digest = ?, salt_fingerprint = ? WHERE id = ? AND digest = ?")
            .bind(&rehash.new.as_bytes()[..])
            .bind(&rehash.salt_fingerprint)
            .bind(id.as_str())
            .bind(&rehash.old.as_bytes()[..])
            .execute(&self.writer)
            .await
            .map_err(map_err("token digest collision"))?;
        Ok(done.rows_affected() == 1)
    }

    // `<>` written as two ranges, so the count reads the salt index and costs
    // nothing when every token is on the current salt (/readyz asks often).
    async fn count_tokens_on_other_salts(&self, salt_fingerprint: &str, now: OffsetDateTime) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM tokens WHERE (salt_fingerprint < ?2 OR salt_fingerprint > ?2) AND {ACTIVE_AT_1}"
        ))
        .bind(to_millis(now))
        .bind(salt_fingerprint)
        .fetch_one(&self.reader)
        .await
        .map_err(backend)?;
        Ok(count as u64)
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
        // One statement per chunk, not per token: a node whose traffic is
        // spread over many tokens flushes that many rows each time. A token
        // deleted since its use is skipped; only a later time changes a row.
        for chunk in uses.chunks(LAST_USED_ROWS_PER_STATEMENT) {
            let sql = format!(
                "WITH used(id, at) AS (VALUES {}) \
                 INSERT INTO token_last_used (token_id, at) \
                 SELECT id, at FROM used WHERE EXISTS (SELECT 1 FROM tokens WHERE tokens.id = used.id) \
                 ON CONFLICT (token_id) DO UPDATE SET at = excluded.at WHERE token_last_used.at < excluded.at",
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql).persistent(false);
            for (id, at) in chunk {
                query = query.bind(id.as_str()).bind(to_millis(*at));
            }
            query.execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

/// "Live at `?1`" (not revoked, not expired, whatever made it), for queries
/// that bind the instant first.
const ACTIVE_AT_1: &str = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)";

/// Revokes the live descendants of `parent` (children, theirs…) inside `tx`.
async fn revoke_descendants_in(
    tx: &mut sqlx::SqliteConnection,
    parent: TokenId,
    at: OffsetDateTime,
) -> StoreResult<Vec<TokenId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE descendants(id) AS (SELECT id FROM tokens WHERE parent_id = ?1 \
         UNION SELECT tokens.id FROM tokens JOIN descendants ON tokens.parent_id = descendants.id) \
         UPDATE tokens SET revoked_at = ?2, revoked_reason = ?3 \
         WHERE id IN (SELECT id FROM descendants) AND revoked_at IS NULL RETURNING id",
    )
    .bind(parent.as_str())
    .bind(to_millis(at))
    .bind(RevokedReason::ParentRevoked.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| TokenId::parse(id).map_err(|err| StoreError::Corrupt(err.to_string()))).collect()
}
