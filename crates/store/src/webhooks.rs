//! Org webhooks and their outbox: the records, and what an event becomes
//! when it is delivered.

use gatepass_core::id::{DeliveryId, DeploymentId, OrgId, WebhookId};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::records::{AuditEvent, DeployHook, Deployment};

/// An org's webhook endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    /// Event types, or `["*"]`.
    pub events: Vec<String>,
    pub description: String,
    /// `whsec_` + base64 of the HMAC key.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<OffsetDateTime>,
    /// Set when the endpoint answered 410 Gone (or an admin turned it off):
    /// nothing is sent until it is enabled again.
    pub disabled_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"<redacted>")
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The secrets that sign a delivery at `now`: the current one, and the
    /// previous one while its overlap lasts.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                secrets.push(previous);
            }
        }
        secrets
    }

    /// The subscription list as stored: space-separated.
    pub fn events_column(&self) -> String {
        self.events.join(" ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    Delivered,
    /// Every retry failed, or the endpoint is gone.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one endpoint: an org webhook, or the deploy
/// hook of a deployment's project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The `webhook-id` header: the same on every attempt.
    pub id: DeliveryId,
    /// Set for an org webhook's delivery.
    pub webhook_id: Option<WebhookId>,
    /// Set for a deploy hook's delivery: the deployment it announces.
    pub deployment_id: Option<DeploymentId>,
    pub org_id: OrgId,
    pub event_type: String,
    /// The exact bytes signed and sent: `{"type", "timestamp", "data"}`.
    pub body: String,
    pub created_at: OffsetDateTime,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
}

impl Delivery {
    /// A delivery of `body` due at once.
    pub fn new(webhook: &Webhook, event_type: &str, body: String, now: OffsetDateTime) -> Self {
        Delivery {
            id: DeliveryId::generate(),
            webhook_id: Some(webhook.id),
            deployment_id: None,
            org_id: webhook.org_id,
            event_type: event_type.to_string(),
            body,
            created_at: now,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(now),
            last_status_code: None,
            last_error: None,
        }
    }
}

impl Delivery {
    /// The deploy hook delivery of `deployment`, due at once: written with
    /// the deployment, sent to its project's hook as it is when sent.
    pub fn for_deploy_hook(deployment: &Deployment, body: String) -> Self {
        Delivery {
            id: DeliveryId::generate(),
            webhook_id: None,
            deployment_id: Some(deployment.id),
            org_id: deployment.org_id,
            event_type: "deployment.created".to_string(),
            body,
            created_at: deployment.created_at,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(deployment.created_at),
            last_status_code: None,
            last_error: None,
        }
    }
}

/// Where a claimed delivery goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    Webhook(Webhook),
    /// The deploy hook of the deployment's project, as it is now; `None`
    /// when the hook (or the project) was removed since.
    DeployHook(Option<DeployHook>),
}

/// One attempt at a delivery, as the deliveries list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub at: OffsetDateTime,
    /// The endpoint's answer, `None` when there was none (timeout, refused).
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(OffsetDateTime),
    /// The retry schedule is used up.
    GiveUp,
    /// The endpoint answered 410 Gone: fail this delivery and disable the endpoint.
    DisableEndpoint {
        reason: String,
    },
}

/// The webhook event type an audit action is delivered as, if any: the
/// action names are the event names, a leak reported by anyone is a leak
/// too, and a child made by attenuation is a new token like any other.
pub fn webhook_event_type(action: &str) -> Option<&'static str> {
    let action = match action {
        "token.reported" => "token.leaked",
        "token.attenuated" => "token.created",
        other => other,
    };
    gatepass_core::webhook::EVENT_TYPES.iter().copied().find(|name| *name == action)
}

/// The body delivered for `event` as `event_type`: `{"type", "timestamp", "data"}`,
/// `data` holding the object's id (`token_id`, `deployment_id`), the org,
/// who acted, and what the audit log records about it.
pub fn webhook_body(event_type: &str, event: &AuditEvent) -> String {
    let mut data = match &event.details {
        serde_json::Value::Object(details) => details.clone(),
        _ => serde_json::Map::new(),
    };
    let kind = event_type.split('.').next().unwrap_or("object");
    data.insert(format!("{kind}_id"), json!(event.target));
    data.insert("org_id".into(), json!(event.org_id));
    data.insert("actor".into(), json!({ "id": event.actor.id, "label": event.actor.label }));
    json!({
        "type": event_type,
        "timestamp": event.at.format(&Rfc3339).unwrap_or_default(),
        "data": data,
    })
    .to_string()
}
