//! The audit log, settings, and the store as a whole.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_store::*;
use gatepass_store_sql::*;
use time::OffsetDateTime;

use crate::{backend, PgStore, PING_TIMEOUT};

const EVENT_COLUMNS: &str = "id, org_id, actor_id, actor_label, action, target, client_ip, details, at";

#[async_trait]
impl AuditStore for PgStore {
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        super::webhooks::insert_event_with_deliveries(&mut tx, event).await?;
        tx.commit().await.map_err(backend)
    }

    async fn list_events(&self, org: Option<OrgId>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        // SQLite's `org_id IS ?`. IS NOT DISTINCT FROM would say the same but
        // cannot use the (org_id, at) index, which `=` and `IS NULL` can.
        let rows: Vec<AuditEventRow> = match org {
            Some(org) => sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE org_id = $1 ORDER BY at DESC, id LIMIT $2"
            ))
            .bind(org.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?,
            None => sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE org_id IS NULL ORDER BY at DESC, id LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?,
        };
        convert_all(rows)
    }

    async fn list_events_page(&self, org: OrgId, page: &PageRequest) -> StoreResult<Vec<AuditEvent>> {
        let (after_at, after_id) = page_key(page);
        let rows: Vec<AuditEventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE org_id = $1 \
             AND ($2::bigint IS NULL OR at < $2 OR (at = $2 AND id > $3)) ORDER BY at DESC, id LIMIT $4"
        ))
        .bind(org.as_str())
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
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
        let rows: Vec<AuditEventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE org_id = $1 AND at >= $2 \
             AND ($3::bigint IS NULL OR at > $3 OR (at = $3 AND id > $4)) ORDER BY at, id LIMIT $5"
        ))
        .bind(org.as_str())
        .bind(to_millis(since))
        .bind(after.map(|key| to_millis(key.at)))
        .bind(after.map(|key| key.id.clone()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }
}

#[async_trait]
impl SettingStore for PgStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        // Without a bound, a database that stopped answering would hold
        // `/readyz` for the pool's whole acquire timeout, or longer on a
        // connection whose packets vanish; a load balancer wants its answer.
        let answer = tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&self.pool)).await;
        match answer {
            Ok(done) => done.map(drop).map_err(backend),
            Err(_) => Err(StoreError::Backend(
                format!("PostgreSQL did not answer within {} s", PING_TIMEOUT.as_secs()).into(),
            )),
        }
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
