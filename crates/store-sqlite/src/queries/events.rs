//! Audit events, settings, and the backend as a whole.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use crate::{backend, SqliteStore};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        super::webhooks::insert_event_with_deliveries(&mut tx, event).await?;
        tx.commit().await.map_err(backend)
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

    async fn list_events_page(&self, org: OrgId, page: &PageRequest) -> StoreResult<Vec<AuditEvent>> {
        let (after_at, after_id) = page_key(page);
        let rows: Vec<AuditEventRow> = sqlx::query_as(
            "SELECT id, org_id, actor_id, actor_label, action, target, client_ip, details, at FROM audit_events \
             WHERE org_id = ?1 AND (?2 IS NULL OR at < ?2 OR (at = ?2 AND id > ?3)) ORDER BY at DESC, id LIMIT ?4",
        )
        .bind(org.as_str())
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page.limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn list_events_since(
        &self,
        org: OrgId,
        since: OffsetDateTime,
        after: Option<&PageKey>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows: Vec<AuditEventRow> = sqlx::query_as(
            "SELECT id, org_id, actor_id, actor_label, action, target, client_ip, details, at FROM audit_events \
             WHERE org_id = ?1 AND at >= ?2 AND (?3 IS NULL OR at > ?3 OR (at = ?3 AND id > ?4)) \
             ORDER BY at, id LIMIT ?5",
        )
        .bind(org.as_str())
        .bind(to_millis(since))
        .bind(after.map(|key| to_millis(key.at)))
        .bind(after.map(|key| key.id.clone()))
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
    async fn token_change_head(&self) -> StoreResult<u64> {
        // AUTOINCREMENT keeps the last number even when the log is pruned empty.
        let head: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'token_changes'")
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        Ok(head.unwrap_or(0) as u64)
    }

    async fn token_changes_since(&self, after: u64, limit: u32) -> StoreResult<Vec<TokenChangeRecord>> {
        let rows: Vec<TokenChangeRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_CHANGE_COLUMNS} FROM token_changes WHERE seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn prune_token_changes(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM token_changes WHERE at < ?")
            .bind(to_millis(before))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    /// One process owns an SQLite file and drops what it changes from its
    /// own cache at once, so there are no other nodes to hear from.
    async fn subscribe_token_changes(&self) -> StoreResult<Option<TokenChangeSignals>> {
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
