//! Tokens: the plan limit, lookup by digest, rotation, revocation, last use.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::policy::MAX_CHILDREN;
use gatepass_core::token::{RevokedReason, TokenDigest};
use gatepass_store::*;
use gatepass_store_sql::*;
use sqlx::Row;
use time::OffsetDateTime;

use crate::{backend, map_err, PgStore};

/// Last-used rows written by one statement.
const LAST_USED_ROWS_PER_STATEMENT: usize = 1000;

/// A token's columns, read `FROM tokens`. Its last-used time lives in a
/// narrow table of its own (migration 0010 says why) and is read by a
/// subquery, not a join: a subquery always takes that table's primary key,
/// where a join's plan, made once for a prepared statement while the table
/// was still empty, may scan the whole table on every lookup.
pub(super) const TOKEN_COLUMNS: &str = "id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
    previous_digest, previous_valid_until, created_by_id, created_by_label, created_at, rotated_at, \
    (SELECT at FROM token_last_used WHERE token_id = tokens.id) AS last_used_at, \
    expires_at, revoked_at, revoked_reason, leak_url, leak_source, allowed_ips, parent_id, salt_fingerprint, source";

/// The condition for "counts against the plan": made by a user (minted
/// tokens never count), not revoked, not expired at `$2`.
const ACTIVE_AT: &str = "source = 'user' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";

/// The condition for "can still be used", whatever made it: not revoked, not
/// expired at `$2`.
const LIVE_AT: &str = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";

/// Writes one token row; shared by `insert_token` and `mint_token`.
pub(crate) async fn insert_token_row(conn: &mut sqlx::PgConnection, token: &NewToken) -> Result<(), sqlx::Error> {
    let (level, project, environment) = reach_columns(token.reach);
    sqlx::query(
        "INSERT INTO tokens (id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
         created_by_id, created_by_label, created_at, expires_at, allowed_ips, parent_id, salt_fingerprint, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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
impl TokenStore for PgStore {
    async fn insert_token(&self, token: &NewToken) -> StoreResult<()> {
        // Several nodes may create tokens for one org at once. Locking the
        // org's row queues them: each counts, under READ COMMITTED, the
        // tokens its predecessors committed before it got the lock.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let plan: Option<String> = sqlx::query_scalar("SELECT plan FROM orgs WHERE id = $1 FOR UPDATE")
            .bind(token.org_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let plan = plan.and_then(|p| Plan::parse(&p)).ok_or(StoreError::Missing("organization"))?;
        if let Some(limit) = plan.active_token_limit() {
            let active: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tokens WHERE org_id = $1 AND {ACTIVE_AT}"))
                    .bind(token.org_id.as_str())
                    .bind(to_millis(token.created_at))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
            if active >= i64::from(limit) {
                return Err(StoreError::PlanLimit { plan, limit });
            }
        }
        // The org's row lock above queues this count behind other creates too.
        if let Some(parent) = token.parent_id {
            let live_parent: Option<i32> =
                sqlx::query_scalar(&format!("SELECT 1 FROM tokens WHERE id = $1 AND {LIVE_AT}"))
                    .bind(parent.as_str())
                    .bind(to_millis(token.created_at))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            if live_parent.is_none() {
                return Err(StoreError::Missing("parent token"));
            }
            let children: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tokens WHERE parent_id = $1 AND {LIVE_AT}"))
                    .bind(parent.as_str())
                    .bind(to_millis(token.created_at))
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
        let row: Option<TokenRow> =
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE digest = $1 OR previous_digest = $1"))
                .bind(&digest.as_bytes()[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        convert_one(row)
    }

    async fn find_token(&self, id: TokenId) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        convert_one(row)
    }

    async fn list_tokens(&self, org: OrgId, filter: TokenFilter) -> StoreResult<Vec<TokenRecord>> {
        // The casts name the types of parameters that appear only in a NULL
        // test or as a bare condition (SQLite needs no such help).
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 \
             AND ($2::text IS NULL OR project_id = $2) AND ($3::boolean OR revoked_at IS NULL) \
             AND ($4::text IS NULL OR level = $4) ORDER BY created_at DESC, id"
        ))
        .bind(org.as_str())
        .bind(filter.project.map(|p| p.to_string()))
        .bind(filter.include_revoked)
        .bind(filter.level.map(|level| level.as_str()))
        .fetch_all(&self.pool)
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
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 \
             AND ($2::text IS NULL OR project_id = $2) AND ($3::boolean OR revoked_at IS NULL) \
             AND ($7::text IS NULL OR level = $7) \
             AND ($4::bigint IS NULL OR created_at < $4 OR (created_at = $4 AND id > $5)) \
             ORDER BY created_at DESC, id LIMIT $6"
        ))
        .bind(org.as_str())
        .bind(filter.project.map(|p| p.to_string()))
        .bind(filter.include_revoked)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page.limit))
        .bind(filter.level.map(|level| level.as_str()))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn count_active_tokens(&self, org: OrgId, now: OffsetDateTime) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tokens WHERE org_id = $1 AND {ACTIVE_AT}"))
            .bind(org.as_str())
            .bind(to_millis(now))
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(count as u64)
    }

    async fn count_tokens(&self) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&self.pool).await.map_err(backend)?;
        Ok(count as u64)
    }

    async fn rotate_token(&self, id: TokenId, rotation: &Rotation) -> StoreResult<bool> {
        let keep_previous = rotation.previous_valid_until.is_some();
        // The trigger of migration 0006 logs the change and wakes every node.
        let changed = sqlx::query(
            "UPDATE tokens SET previous_digest = CASE WHEN $1 THEN digest ELSE NULL END, \
             previous_valid_until = $2, digest = $3, preview = $4, rotated_at = $5, salt_fingerprint = $7 \
             WHERE id = $6 AND revoked_at IS NULL",
        )
        .bind(keep_previous)
        .bind(rotation.previous_valid_until.map(to_millis))
        .bind(&rotation.digest.as_bytes()[..])
        .bind(&rotation.preview)
        .bind(to_millis(rotation.at))
        .bind(id.as_str())
        .bind(&rotation.salt_fingerprint)
        .execute(&self.pool)
        .await
        .map_err(map_err("token digest collision"))?;
        Ok(changed.rows_affected() == 1)
    }

    async fn revoke_token(&self, id: TokenId, at: OffsetDateTime) -> StoreResult<bool> {
        // A token revoked already matches but does not change, so the change
        // log's trigger (which compares the rows) records nothing for it.
        let changed = sqlx::query(
            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1), \
             revoked_reason = COALESCE(revoked_reason, $2) WHERE id = $3",
        )
        .bind(to_millis(at))
        .bind(RevokedReason::User.as_str())
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn revoke_tokens(&self, tokens: &[TokenToRevoke], revocation: Revocation) -> StoreResult<Vec<TokenId>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = tokens.iter().map(|token| token.id.as_str()).collect();
        let (urls, sources): (Vec<Option<&str>>, Vec<Option<&str>>) = tokens.iter().map(leak_columns).unzip();
        // One transaction: every token and its descendants are revoked at its
        // commit, when the change log's trigger wakes every node.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let changed = sqlx::query(
            "WITH given AS (SELECT * FROM UNNEST($3::text[], $4::text[], $5::text[]) AS g(id, leak_url, leak_source)) \
             UPDATE tokens SET revoked_at = $1, revoked_reason = $2, \
                 leak_url = given.leak_url, leak_source = given.leak_source \
             FROM given WHERE tokens.id = given.id AND tokens.revoked_at IS NULL RETURNING tokens.id",
        )
        .bind(to_millis(revocation.at))
        .bind(revocation.reason.as_str())
        .bind(&ids)
        .bind(&urls)
        .bind(&sources)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let mut revoked = changed
            .iter()
            .map(|row| {
                let id: &str = row.try_get("id").map_err(backend)?;
                TokenId::parse(id).map_err(|err| StoreError::Corrupt(err.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        // In the order given, as the SQLite backend answers.
        revoked.sort_by_key(|id| ids.iter().position(|given| *given == id.as_str()));
        revoked.extend(revoke_descendants_in(&mut tx, &ids, revocation.at).await?);
        tx.commit().await.map_err(backend)?;
        Ok(revoked)
    }

    async fn revoke_descendants(&self, parent: TokenId, at: OffsetDateTime) -> StoreResult<Vec<TokenId>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let revoked = revoke_descendants_in(&mut tx, &[parent.as_str()], at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(revoked)
    }

    async fn update_token(&self, id: TokenId, update: &TokenUpdate) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE tokens SET name = COALESCE($1, name), allowed_ips = CASE WHEN $2 THEN $3 ELSE allowed_ips END \
             WHERE id = $4",
        )
        .bind(update.name.as_deref())
        .bind(update.allowed_ips.is_some())
        .bind(update.allowed_ips.as_ref().and_then(|ips| ips.to_stored()))
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn rehash_token(&self, id: TokenId, rehash: &Rehash) -> StoreResult<bool> {
        let changed = sqlx::query("UPDATE tokens SET digest = $1, salt_fingerprint = $2 WHERE id = $3 AND digest = $4")
            .bind(&rehash.new.as_bytes()[..])
            .bind(&rehash.salt_fingerprint)
            .bind(id.as_str())
            .bind(&rehash.old.as_bytes()[..])
            .execute(&self.pool)
            .await
            .map_err(map_err("token digest collision"))?;
        Ok(changed.rows_affected() == 1)
    }

    // `<>` written as two ranges, so the count reads the salt index and costs
    // nothing when every token is on the current salt (/readyz asks often).
    async fn count_tokens_on_other_salts(&self, salt_fingerprint: &str, now: OffsetDateTime) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM tokens WHERE (salt_fingerprint < $1 OR salt_fingerprint > $1) AND {LIVE_AT}"
        ))
        .bind(salt_fingerprint)
        .bind(to_millis(now))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(count as u64)
    }

    async fn delete_token(&self, id: TokenId) -> StoreResult<bool> {
        let changed = sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn record_last_used(&self, uses: &[(TokenId, OffsetDateTime)]) -> StoreResult<()> {
        // Nodes flush overlapping batches; writing the rows in id order (byte
        // order, here and in each statement) makes every transaction lock
        // them in the same order, so two flushes queue instead of deadlocking.
        // Sorted on a blocking thread: 200,000 ids take 15-25 ms to sort,
        // which would hold up the requests queued on a worker.
        let mut uses = uses.to_vec();
        let uses = tokio::task::spawn_blocking(move || {
            uses.sort_unstable_by_key(|&(id, _)| id);
            uses
        })
        .await
        .map_err(StoreError::backend)?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // One statement per chunk, not one per token: a node whose traffic
        // is spread over many tokens flushes that many rows each time. A
        // token deleted since its use is skipped (one deleted during the
        // flush fails it once, and the retry skips it); only a later time
        // changes a row.
        for chunk in uses.chunks(LAST_USED_ROWS_PER_STATEMENT) {
            let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
            let times: Vec<i64> = chunk.iter().map(|&(_, at)| to_millis(at)).collect();
            sqlx::query(
                "INSERT INTO token_last_used (token_id, at) \
                 SELECT used.id, used.at FROM UNNEST($1::text[], $2::bigint[]) AS used(id, at) \
                 WHERE EXISTS (SELECT 1 FROM tokens WHERE tokens.id = used.id) ORDER BY used.id COLLATE \"C\" \
                 ON CONFLICT (token_id) DO UPDATE SET at = EXCLUDED.at WHERE token_last_used.at < EXCLUDED.at",
            )
            .bind(&ids)
            .bind(&times)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

/// Revokes the live descendants of `parents` (children, theirs…) inside `tx`.
async fn revoke_descendants_in(
    tx: &mut sqlx::PgConnection,
    parents: &[&str],
    at: OffsetDateTime,
) -> StoreResult<Vec<TokenId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE descendants(id) AS (SELECT id FROM tokens WHERE parent_id = ANY($1::text[]) \
         UNION SELECT tokens.id FROM tokens JOIN descendants ON tokens.parent_id = descendants.id) \
         UPDATE tokens SET revoked_at = $2, revoked_reason = $3 \
         WHERE id IN (SELECT id FROM descendants) AND revoked_at IS NULL RETURNING id",
    )
    .bind(parents)
    .bind(to_millis(at))
    .bind(RevokedReason::ParentRevoked.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| TokenId::parse(id).map_err(|err| StoreError::Corrupt(err.to_string()))).collect()
}
