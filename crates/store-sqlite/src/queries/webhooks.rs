//! Org webhooks, their outbox, and expiry reminders.

use async_trait::async_trait;
use gatepass_core::id::*;
use gatepass_core::webhook::EXPIRY_THRESHOLDS_DAYS;
use gatepass_store::*;
use gatepass_store_sql::*;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use super::TOKEN_COLUMNS;
use crate::{backend, SqliteStore};

/// Writes `event` and its webhook deliveries inside the caller's transaction.
pub(crate) async fn insert_event_with_deliveries(conn: &mut SqliteConnection, event: &AuditEvent) -> StoreResult<()> {
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
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let (Some(org), Some(_)) = (event.org_id, webhook_event_type(&event.action)) else {
        return Ok(());
    };
    let rows: Vec<WebhookRow> =
        sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ? AND disabled_at IS NULL"))
            .bind(org.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    let webhooks: Vec<Webhook> = convert_all(rows)?;
    for delivery in deliveries_for_event(event, &webhooks) {
        insert_delivery(&mut *conn, &delivery).await?;
    }
    Ok(())
}

pub(crate) async fn insert_delivery(conn: &mut SqliteConnection, delivery: &Delivery) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(delivery.id.as_str())
    .bind(delivery.webhook_id.map(|w| w.to_string()))
    .bind(delivery.deployment_id.map(|d| d.to_string()))
    .bind(delivery.org_id.as_str())
    .bind(&delivery.event_type)
    .bind(&delivery.body)
    .bind(to_millis(delivery.created_at))
    .bind(delivery.status.as_str())
    .bind(i64::from(delivery.attempts))
    .bind(delivery.next_attempt_at.map(to_millis))
    .bind(delivery.last_status_code.map(i64::from))
    .bind(&delivery.last_error)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(webhook.id.as_str())
            .bind(webhook.org_id.as_str())
            .bind(&webhook.url)
            .bind(webhook.events_column())
            .bind(&webhook.description)
            .bind(&webhook.secret)
            .bind(&webhook.previous_secret)
            .bind(webhook.previous_secret_until.map(to_millis))
            .bind(webhook.disabled_at.map(to_millis))
            .bind(&webhook.disabled_reason)
            .bind(to_millis(webhook.created_at))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn find_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let row: Option<WebhookRow> = sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map(Webhook::try_from).transpose()
    }

    async fn list_webhooks(&self, org: OrgId) -> StoreResult<Vec<Webhook>> {
        let rows: Vec<WebhookRow> =
            sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ? ORDER BY created_at, id"))
                .bind(org.as_str())
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        convert_all(rows)
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET url = ?, events = ?, description = ?, secret = ?, previous_secret = ?, \
             previous_secret_until = ?, disabled_at = ?, disabled_reason = ? WHERE id = ?",
        )
        .bind(&webhook.url)
        .bind(webhook.events_column())
        .bind(&webhook.description)
        .bind(&webhook.secret)
        .bind(&webhook.previous_secret)
        .bind(webhook.previous_secret_until.map(to_millis))
        .bind(webhook.disabled_at.map(to_millis))
        .bind(&webhook.disabled_reason)
        .bind(webhook.id.as_str())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = ?")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        for delivery in deliveries {
            insert_delivery(&mut tx, delivery).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn find_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        let row: Option<DeliveryRow> =
            sqlx::query_as(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?"))
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        row.map(Delivery::try_from).transpose()
    }

    async fn list_deliveries(
        &self,
        webhook: WebhookId,
        limit: u32,
    ) -> StoreResult<Vec<(Delivery, Vec<DeliveryAttempt>)>> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? \
             ORDER BY created_at DESC, id LIMIT ?"
        ))
        .bind(webhook.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        let deliveries: Vec<Delivery> = convert_all(rows)?;
        let Some(oldest) = deliveries.last().map(|delivery| to_millis(delivery.created_at)) else {
            return Ok(Vec::new());
        };
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT a.delivery_id, a.at, a.status_code, a.duration_ms, a.error FROM webhook_delivery_attempts a \
             JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.webhook_id = ? AND d.created_at >= ? ORDER BY a.delivery_id, a.attempt",
        )
        .bind(webhook.as_str())
        .bind(oldest)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        with_attempts(deliveries, attempts)
    }

    async fn redeliver(&self, id: DeliveryId, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?1 \
             WHERE id = ?2 AND claimed_until <= ?1",
        )
        .bind(to_millis(now))
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        claim_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<(Delivery, DeliveryTarget)>> {
        // One writer: the UPDATE is the claim, no other node shares the file.
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
            "UPDATE webhook_deliveries SET claimed_until = ?1 WHERE id IN ( \
                SELECT d.id FROM webhook_deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id \
                WHERE d.status = 'pending' AND d.next_attempt_at <= ?2 AND d.claimed_until <= ?2 \
                AND (d.webhook_id IS NULL OR w.disabled_at IS NULL) ORDER BY d.next_attempt_at, d.id LIMIT ?3) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(to_millis(claim_until))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let delivery = Delivery::try_from(row)?;
            let target = match (delivery.webhook_id, delivery.deployment_id) {
                (Some(webhook), _) => {
                    let row: Option<WebhookRow> =
                        sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?"))
                            .bind(webhook.as_str())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(backend)?;
                    match row {
                        Some(row) => DeliveryTarget::Webhook(row.try_into()?),
                        None => continue,
                    }
                }
                (None, Some(deployment)) => {
                    let hook: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                        "SELECT p.deploy_hook_url, p.deploy_hook_secret FROM deployments d \
                         JOIN projects p ON p.id = d.project_id WHERE d.id = ?",
                    )
                    .bind(deployment.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                    DeliveryTarget::DeployHook(match hook {
                        Some((Some(url), Some(secret))) => Some(DeployHook { url, secret }),
                        _ => None,
                    })
                }
                (None, None) => continue,
            };
            claimed.push((delivery, target));
        }
        tx.commit().await.map_err(backend)?;
        claimed.sort_by_key(|(delivery, _)| (delivery.next_attempt_at, delivery.id));
        Ok(claimed)
    }

    async fn finish_attempt(&self, id: DeliveryId, attempt: &DeliveryAttempt, after: &AfterAttempt) -> StoreResult<()> {
        let (status, next, disable) = after_attempt_columns(after);
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let target: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, next_attempt_at = ?, \
             claimed_until = 0, last_status_code = ?, last_error = ? WHERE id = ? RETURNING webhook_id, deployment_id",
        )
        .bind(status)
        .bind(next)
        .bind(attempt.status_code.map(i64::from))
        .bind(&attempt.error)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        // Gone meanwhile (its endpoint was deleted): nothing to record.
        let Some((webhook, deployment)) = target else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO webhook_delivery_attempts (delivery_id, attempt, at, status_code, duration_ms, error) \
             SELECT id, attempts, ?, ?, ?, ? FROM webhook_deliveries WHERE id = ? ON CONFLICT DO NOTHING",
        )
        .bind(to_millis(attempt.at))
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.duration_ms as i64)
        .bind(&attempt.error)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let (Some(reason), Some(webhook)) = (disable, &webhook) {
            sqlx::query(
                "UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL",
            )
            .bind(to_millis(attempt.at))
            .bind(reason)
            .bind(webhook)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if let (Some(status), Some(deployment)) = (hook_status_after(after), &deployment) {
            sqlx::query("UPDATE deployments SET hook_status = ? WHERE id = ?")
                .bind(status.as_str())
                .bind(deployment)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn prune_deliveries(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?")
            .bind(to_millis(before))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn tokens_expiring(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<(TokenRecord, Option<u32>)>> {
        let rows: Vec<TokenWithReminderRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS}, (SELECT MIN(r.days) FROM token_expiry_reminders r WHERE r.token_id = tokens.id) \
             AS reminded FROM tokens WHERE revoked_at IS NULL AND expires_at > ? AND expires_at <= ? \
             ORDER BY expires_at, id"
        ))
        .bind(to_millis(now))
        .bind(to_millis(until))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn record_expiry_reminder(&self, token: TokenId, days: u32, event: &AuditEvent) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let inserted = sqlx::query(
            "INSERT INTO token_expiry_reminders (token_id, days, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(token.as_str())
        .bind(i64::from(days))
        .bind(to_millis(event.at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !inserted {
            return Ok(false);
        }
        // The wider thresholds passed too: they are not sent late.
        for wider in EXPIRY_THRESHOLDS_DAYS.iter().filter(|wider| **wider > days) {
            sqlx::query(
                "INSERT INTO token_expiry_reminders (token_id, days, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(token.as_str())
            .bind(i64::from(*wider))
            .bind(to_millis(event.at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        insert_event_with_deliveries(&mut tx, event).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
