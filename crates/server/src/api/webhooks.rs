//! `/v1/orgs/{org}/webhooks…`: an org's signed webhook endpoints and their
//! deliveries (SPEC 6.4), over [`crate::service::webhooks`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatepass_store::{Delivery, DeliveryAttempt, Webhook};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::keys::{InOrg, OrgKey};
use super::pages::{NoFilter, PageParams, Paged};
use super::NO_STORE;
use crate::problem::Problem;
use crate::service::webhooks::{self, WebhookChange};
use crate::service::{pages, ServiceResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(test_webhook))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookKey {
    /// Organization id (`org_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InOrg
    pub org: String,
    /// Webhook id (`wh_…`).
    pub id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryKey {
    /// Organization id (`org_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InOrg
    pub org: String,
    /// Webhook id (`wh_…`).
    pub id: String,
    /// Delivery id (`msg_…`): the `webhook-id` header it was sent with.
    pub delivery: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: http(s), not a loopback, private, link-local
    /// or metadata address.
    #[schema(example = "https://hooks.example.com/gatepass")]
    pub url: String,
    /// Event types, or `["*"]` for all.
    #[schema(example = json!(["token.revoked", "token.leaked", "token.expiring"]))]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `false` stops deliveries (they wait); `true` resumes an endpoint
    /// disabled by a 410 answer or an admin.
    pub enabled: Option<bool>,
    /// Issue a new secret (in this answer only); the old one keeps signing
    /// next to it for 24 h.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// A webhook endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(example = "wh_5mWqN3xT9aK2bR7cV1dE")]
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    /// False after a 410 answer or when an admin disabled it.
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    /// While a rotated-out secret still signs next to the current one.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl WebhookView {
    fn new(webhook: &Webhook, now: OffsetDateTime) -> Self {
        WebhookView {
            id: webhook.id.to_string(),
            url: webhook.url.clone(),
            events: webhook.events.clone(),
            description: webhook.description.clone(),
            enabled: webhook.disabled_at.is_none(),
            disabled_at: webhook.disabled_at,
            disabled_reason: webhook.disabled_reason.clone(),
            previous_secret_expires_at: webhook.previous_secret_until.filter(|until| *until > now),
            created_at: webhook.created_at,
        }
    }
}

/// An endpoint with its signing secret: the answer to a create or a secret
/// rotation, the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecretView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` + base64 of the HMAC-SHA256 key.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The endpoint's answer; absent when there was none (timeout, refused).
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// One event's delivery to the endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` header: the same on every attempt.
    #[schema(example = "msg_2KWPBgLlAfxdpx2AI54p")]
    pub id: String,
    #[schema(example = "token.revoked")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the next attempt is due, while pending.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_status_code: Option<u16>,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<AttemptView>,
}

impl DeliveryView {
    fn new(delivery: &Delivery, attempts: &[DeliveryAttempt]) -> Self {
        DeliveryView {
            id: delivery.id.to_string(),
            event_type: delivery.event_type.clone(),
            status: delivery.status.as_str(),
            created_at: delivery.created_at,
            next_attempt_at: delivery.next_attempt_at,
            last_status_code: delivery.last_status_code,
            attempts: attempts
                .iter()
                .map(|attempt| AttemptView {
                    at: attempt.at,
                    status_code: attempt.status_code,
                    duration_ms: attempt.duration_ms,
                    error: attempt.error.clone(),
                })
                .collect(),
        }
    }
}

/// The org's webhook endpoints, oldest first. Needs org-wide `admin`.
#[utoipa::path(get, path = "/v1/orgs/{org}/webhooks", tag = "webhooks", params(OrgKey, PageParams),
    responses((status = 200, body = Vec<WebhookView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let list = webhooks::list(&state, &caller, &org).await?;
    let now = state.clock.now();
    // Ids are random: order by creation, then id.
    let key = |webhook: &Webhook| format!("{:020}{}", gatepass_store::to_millis(webhook.created_at), webhook.id);
    let page = pages::in_memory(list, key, &paged.page);
    Ok(paged.answer(&state, page.map(|webhook| WebhookView::new(&webhook, now))))
}

/// Add a webhook endpoint. Its `secret` is in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{org}/webhooks", tag = "webhooks", params(OrgKey),
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "Created; `secret` is shown only now", body = WebhookWithSecretView),
        (status = 422, description = "An unknown event type, or a URL that is malformed or resolves to a refused address (the detail names the reason)", body = Problem)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> ServiceResult<impl IntoResponse> {
    let webhook = webhooks::create(&state, &caller, &org, &body.url, &body.events, &body.description).await?;
    let view = WebhookView::new(&webhook, state.clock.now());
    Ok((StatusCode::CREATED, NO_STORE, Json(WebhookWithSecretView { webhook: view, secret: webhook.secret })))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/v1/orgs/{org}/webhooks/{id}", tag = "webhooks", params(WebhookKey),
    responses((status = 200, body = WebhookView)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<WebhookKey>,
) -> ServiceResult<Json<WebhookView>> {
    let webhook = webhooks::find(&state, &caller, &org, &key.id).await?;
    Ok(Json(WebhookView::new(&webhook, state.clock.now())))
}

/// Change an endpoint: url, events, description, enabled, or a new secret
/// (`rotate_secret`, answered with `secret` this once).
#[utoipa::path(patch, path = "/v1/orgs/{org}/webhooks/{id}", tag = "webhooks", params(WebhookKey),
    request_body = UpdateWebhookRequest,
    responses((status = 200, description = "Changed; with `secret` only after a rotation", body = WebhookWithSecretView),
        (status = 422, description = "An unknown event type, or a refused URL", body = Problem)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<WebhookKey>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> ServiceResult<Response> {
    let change = WebhookChange {
        url: body.url,
        events: body.events,
        description: body.description,
        enabled: body.enabled,
        rotate_secret: body.rotate_secret,
    };
    let (webhook, rotated) = webhooks::update(&state, &caller, &org, &key.id, change).await?;
    let view = WebhookView::new(&webhook, state.clock.now());
    Ok(if rotated {
        (NO_STORE, Json(WebhookWithSecretView { webhook: view, secret: webhook.secret })).into_response()
    } else {
        Json(view).into_response()
    })
}

/// Delete an endpoint with its deliveries.
#[utoipa::path(delete, path = "/v1/orgs/{org}/webhooks/{id}", tag = "webhooks", params(WebhookKey),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<WebhookKey>,
) -> ServiceResult<StatusCode> {
    webhooks::delete(&state, &caller, &org, &key.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's last 100 deliveries, newest first, each with its
/// attempts (response codes, durations) and when it is retried next.
#[utoipa::path(get, path = "/v1/orgs/{org}/webhooks/{id}/deliveries", tag = "webhooks", params(WebhookKey, PageParams),
    responses((status = 200, body = Vec<DeliveryView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<WebhookKey>,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let list = webhooks::deliveries(&state, &caller, &org, &key.id).await?;
    // Newest first: the key counts down with time.
    let key = |(delivery, _): &(Delivery, Vec<DeliveryAttempt>)| {
        format!("{:020}{}", i64::MAX - gatepass_store::to_millis(delivery.created_at), delivery.id)
    };
    let page = pages::in_memory(list, key, &paged.page);
    Ok(paged.answer(&state, page.map(|(delivery, attempts)| DeliveryView::new(&delivery, &attempts))))
}

/// Send a delivery again, with the same `webhook-id`.
#[utoipa::path(post, path = "/v1/orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(DeliveryKey),
    responses((status = 202, description = "Queued; it goes out at once", body = DeliveryView),
        (status = 409, description = "It is being sent right now", body = Problem)))]
pub async fn redeliver(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<DeliveryKey>,
) -> ServiceResult<(StatusCode, Json<DeliveryView>)> {
    let delivery = webhooks::redeliver(&state, &caller, &org, &key.id, &key.delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::new(&delivery, &[]))))
}

/// Send a `webhook.test` event to the endpoint, whatever it subscribes to.
#[utoipa::path(post, path = "/v1/orgs/{org}/webhooks/{id}/test", tag = "webhooks", params(WebhookKey),
    responses((status = 202, description = "Queued; it goes out at once", body = DeliveryView)))]
pub async fn test_webhook(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<WebhookKey>,
) -> ServiceResult<(StatusCode, Json<DeliveryView>)> {
    let delivery = webhooks::send_test(&state, &caller, &org, &key.id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::new(&delivery, &[]))))
}
