//! Org webhooks: endpoints that receive signed events (SPEC 6.4), their
//! recent deliveries, and the expiry reminders sent through them. Delivery
//! itself is [`crate::outbox::webhooks`]; events are queued with their audit
//! event (see `AuditStore::record_event`).

use gatepass_core::id::{DeliveryId, EventId, WebhookId};
use gatepass_core::webhook::{self, TEST_EVENT};
use gatepass_store::{Actor, AuditEvent, Delivery, DeliveryAttempt, Org, Webhook};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::audit::{self, AuditAction};
use super::{Caller, ServiceError, ServiceResult};
use crate::outbox::ssrf;
use crate::outbox::webhooks::new_secret;
use crate::state::AppState;

/// How long a rotated-out secret keeps signing next to the new one.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);
/// Deliveries a listing shows: the latest.
pub const LISTED_DELIVERIES: u32 = 100;
const MAX_DESCRIPTION: usize = 500;
const MAX_URL: usize = 2000;

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Issue a new secret; the old one signs too for [`SECRET_OVERLAP`].
    pub rotate_secret: bool,
}

fn check_description(text: &str) -> ServiceResult<String> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(ServiceError::Invalid(format!("description is longer than {MAX_DESCRIPTION} characters")));
    }
    Ok(text.trim().to_string())
}

fn check_events(events: &[String]) -> ServiceResult<Vec<String>> {
    webhook::parse_subscriptions(events.iter().map(String::as_str))
        .map_err(|err| ServiceError::Invalid(err.to_string()))
}

async fn check_url(state: &AppState, url: &str) -> ServiceResult<String> {
    if url.len() > MAX_URL {
        return Err(ServiceError::Invalid(format!("url is longer than {MAX_URL} characters")));
    }
    let parsed = ssrf::check_url(url.trim(), state.webhooks.allow_private())
        .await
        .map_err(|refused| ServiceError::Invalid(refused.to_string()))?;
    Ok(parsed.to_string())
}

/// Adds an endpoint to `org`; the answer carries its secret, shown this once.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    url: &str,
    events: &[String],
    description: &str,
) -> ServiceResult<Webhook> {
    caller.principal.may_manage_webhooks(org.id)?;
    let events = check_events(events)?;
    let description = check_description(description)?;
    let url = check_url(state, url).await?;
    let webhook = Webhook {
        id: WebhookId::generate(),
        org_id: org.id,
        url,
        events,
        description,
        secret: new_secret(),
        previous_secret: None,
        previous_secret_until: None,
        disabled_at: None,
        disabled_reason: None,
        created_at: state.clock.now(),
    };
    state.store.create_webhook(&webhook).await?;
    let details = json!({ "url": webhook.url, "events": webhook.events });
    audit::record(state, caller, Some(org.id), AuditAction::WebhookCreated, webhook.id.as_str(), details).await;
    Ok(webhook)
}

pub async fn list(state: &AppState, caller: &Caller, org: &Org) -> ServiceResult<Vec<Webhook>> {
    caller.principal.may_manage_webhooks(org.id)?;
    Ok(state.store.list_webhooks(org.id).await?)
}

/// The endpoint `id` of `org`.
pub async fn find(state: &AppState, caller: &Caller, org: &Org, id: &str) -> ServiceResult<Webhook> {
    caller.principal.may_manage_webhooks(org.id)?;
    let id = WebhookId::parse(id).map_err(|_| ServiceError::NotFound("webhook"))?;
    let webhook = state.store.find_webhook(id).await?.filter(|webhook| webhook.org_id == org.id);
    webhook.ok_or(ServiceError::NotFound("webhook"))
}

/// Applies `change`; returns the endpoint and, on a rotation, its new secret.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    id: &str,
    change: WebhookChange,
) -> ServiceResult<(Webhook, bool)> {
    let mut webhook = find(state, caller, org, id).await?;
    let now = state.clock.now();
    if let Some(events) = &change.events {
        webhook.events = check_events(events)?;
    }
    if let Some(description) = &change.description {
        webhook.description = check_description(description)?;
    }
    if let Some(url) = &change.url {
        webhook.url = check_url(state, url).await?;
    }
    match change.enabled {
        Some(true) => (webhook.disabled_at, webhook.disabled_reason) = (None, None),
        Some(false) if webhook.disabled_at.is_none() => {
            webhook.disabled_at = Some(now);
            webhook.disabled_reason = Some("disabled by an admin".into());
        }
        _ => {}
    }
    if change.rotate_secret {
        webhook.previous_secret = Some(std::mem::replace(&mut webhook.secret, new_secret()));
        webhook.previous_secret_until = Some(now + SECRET_OVERLAP);
    }
    if !state.store.update_webhook(&webhook).await? {
        return Err(ServiceError::NotFound("webhook"));
    }
    let details = json!({
        "url": webhook.url,
        "events": webhook.events,
        "enabled": webhook.disabled_at.is_none(),
        "secret_rotated": change.rotate_secret,
    });
    audit::record(state, caller, Some(org.id), AuditAction::WebhookUpdated, webhook.id.as_str(), details).await;
    if change.enabled == Some(true) {
        // Deliveries held while it was disabled go out now.
        state.webhooks.wake();
    }
    Ok((webhook, change.rotate_secret))
}

pub async fn delete(state: &AppState, caller: &Caller, org: &Org, id: &str) -> ServiceResult<()> {
    let webhook = find(state, caller, org, id).await?;
    if !state.store.delete_webhook(webhook.id).await? {
        return Err(ServiceError::NotFound("webhook"));
    }
    let details = json!({ "url": webhook.url });
    audit::record(state, caller, Some(org.id), AuditAction::WebhookDeleted, webhook.id.as_str(), details).await;
    Ok(())
}

/// The endpoint's latest deliveries, newest first, with their attempts.
pub async fn deliveries(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    id: &str,
) -> ServiceResult<Vec<(Delivery, Vec<DeliveryAttempt>)>> {
    let webhook = find(state, caller, org, id).await?;
    Ok(state.store.list_deliveries(webhook.id, LISTED_DELIVERIES).await?)
}

/// Sends a delivery once more, with the same `webhook-id`.
pub async fn redeliver(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    id: &str,
    delivery: &str,
) -> ServiceResult<Delivery> {
    let webhook = find(state, caller, org, id).await?;
    let delivery = DeliveryId::parse(delivery).map_err(|_| ServiceError::NotFound("delivery"))?;
    let found = state.store.find_delivery(delivery).await?.filter(|delivery| delivery.webhook_id == Some(webhook.id));
    let found = found.ok_or(ServiceError::NotFound("delivery"))?;
    if !state.store.redeliver(found.id, state.clock.now()).await? {
        return Err(ServiceError::Conflict(format!(
            "delivery {} is being sent right now; redeliver it once this attempt ends",
            found.id
        )));
    }
    state.webhooks.wake();
    state.store.find_delivery(found.id).await?.ok_or(ServiceError::NotFound("delivery"))
}

/// Queues a `webhook.test` event to the endpoint, whatever it subscribes to.
pub async fn send_test(state: &AppState, caller: &Caller, org: &Org, id: &str) -> ServiceResult<Delivery> {
    let webhook = find(state, caller, org, id).await?;
    let now = state.clock.now();
    let body = json!({
        "type": TEST_EVENT,
        "timestamp": now.format(&Rfc3339).unwrap_or_default(),
        "data": { "webhook_id": webhook.id, "org_id": org.id, "actor": caller.actor(state).await },
    });
    let delivery = Delivery::new(&webhook, TEST_EVENT, body.to_string(), now);
    state.store.insert_deliveries(std::slice::from_ref(&delivery)).await?;
    state.webhooks.wake();
    Ok(delivery)
}

/// How long finished deliveries stay listed.
pub const DELIVERY_RETENTION: Duration = Duration::days(30);

/// Forgets deliveries that finished more than [`DELIVERY_RETENTION`] ago.
pub async fn prune_deliveries(state: &AppState) -> ServiceResult<u64> {
    Ok(state.store.prune_deliveries(state.clock.now() - DELIVERY_RETENTION).await?)
}

/// Sends `token.expiring` for every token that has reached a reminder
/// threshold (30, 7, 1 days) it was not reminded of yet. Idempotent across
/// restarts and nodes: the store records each threshold with its event,
/// and of nodes sweeping at once one sends it. Returns how many it sent.
pub async fn send_expiry_reminders(state: &AppState) -> ServiceResult<usize> {
    let now = state.clock.now();
    let widest = i64::from(webhook::EXPIRY_THRESHOLDS_DAYS[0]);
    let mut sent = 0;
    for (token, reminded) in state.store.tokens_expiring(now, now + Duration::days(widest)).await? {
        let Some(expires_at) = token.expires_at else { continue };
        let Some(days) = webhook::reached_threshold(expires_at, now) else { continue };
        if reminded.is_some_and(|reminded| reminded <= days) {
            continue;
        }
        let event = AuditEvent {
            id: EventId::generate(),
            org_id: Some(token.org_id),
            actor: Actor::system(),
            action: AuditAction::TokenExpiring.as_str().to_string(),
            target: token.id.to_string(),
            client_ip: None,
            details: expiring_details(&token.name, &token.preview, expires_at, days, now),
            at: now,
        };
        if state.store.record_expiry_reminder(token.id, days, &event).await? {
            sent += 1;
        }
    }
    if sent > 0 {
        state.webhooks.wake();
    }
    Ok(sent)
}

fn expiring_details(
    name: &str,
    preview: &str,
    expires_at: OffsetDateTime,
    days: u32,
    now: OffsetDateTime,
) -> serde_json::Value {
    json!({
        "name": name,
        "preview": preview,
        "expires_at": expires_at.format(&Rfc3339).unwrap_or_default(),
        "days_left": webhook::days_left(expires_at, now),
        "threshold_days": days,
    })
}
