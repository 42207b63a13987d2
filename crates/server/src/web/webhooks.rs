//! The org's **Webhooks** page (Settings > Webhooks): add an endpoint (its
//! secret is shown once), delete one, and see an endpoint's recent
//! deliveries with their status, redelivering any of them. A thin skin over
//! `service::webhooks`, as the REST API is.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::webhook::{ALL_EVENTS, EVENT_TYPES};
use gatepass_store::Webhook;
use serde::Deserialize;

use super::console::{Console, Crumbs};
use super::error::WebResult;
use super::form::FormData;
use super::layout::{render_with, Layout, ProjectNav, Stamp};
use crate::service::{webhooks, ServiceError};
use crate::state::AppState;

pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: String,
    pub created: Stamp,
    pub selected: bool,
}

pub struct DeliveryRow {
    pub id: String,
    pub event_type: String,
    pub status: &'static str,
    pub attempts: String,
    pub next_retry: String,
    pub created: Stamp,
}

/// The endpoint whose deliveries are shown.
pub struct Selected {
    pub id: String,
    pub url: String,
    pub deliveries: Vec<DeliveryRow>,
}

/// A secret to show once, after a create.
pub struct NewSecret {
    pub url: String,
    pub secret: String,
}

pub struct EventChoice {
    pub value: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    nav: Option<ProjectNav>,
    crumbs: Crumbs,
    heading: &'static str,
    webhooks_url: String,
    rows: Vec<WebhookRow>,
    selected: Option<Selected>,
    events: Vec<EventChoice>,
    form_url: String,
    form_description: String,
    notice: Option<&'static str>,
    error: Option<String>,
    new_secret: Option<NewSecret>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    webhook: Option<String>,
    notice: Option<String>,
}

#[derive(Default)]
struct Extras {
    show: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
    form: Option<FormData>,
    new_secret: Option<NewSecret>,
}

async fn build(state: &AppState, console: Console, extras: Extras) -> WebResult<WebhooksPage> {
    let console = console.at("settings", "Webhooks");
    let caller = console.web.caller();
    let webhooks_url = format!("/orgs/{}/webhooks", console.org.slug);
    let list = webhooks::list(state, &caller, &console.org).await?;
    let selected = match extras.show.as_deref() {
        Some(id) => {
            let webhook = webhooks::find(state, &caller, &console.org, id).await?;
            let deliveries = webhooks::deliveries(state, &caller, &console.org, id).await?;
            Some(Selected {
                id: webhook.id.to_string(),
                url: webhook.url.clone(),
                deliveries: deliveries
                    .iter()
                    .map(|(delivery, attempts)| DeliveryRow {
                        id: delivery.id.to_string(),
                        event_type: delivery.event_type.clone(),
                        status: delivery.status.as_str(),
                        attempts: if attempts.is_empty() {
                            "none yet".into()
                        } else {
                            attempts
                                .iter()
                                .map(|attempt| match attempt.status_code {
                                    Some(code) => format!("{code} in {} ms", attempt.duration_ms),
                                    None => attempt.error.clone().unwrap_or_else(|| "no answer".into()),
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                        },
                        next_retry: delivery.next_attempt_at.map(|at| Stamp::of(Some(at)).full).unwrap_or_default(),
                        created: Stamp::of(Some(delivery.created_at)),
                    })
                    .collect(),
            })
        }
        None => None,
    };
    let rows = list.iter().map(|webhook| row(webhook, extras.show.as_deref())).collect();
    let form = extras.form.unwrap_or_default();
    let ticked: Vec<&str> = form.all("events").collect();
    let events = std::iter::once(ALL_EVENTS)
        .chain(EVENT_TYPES)
        .map(|value| EventChoice { value, checked: ticked.contains(&value) })
        .collect();
    Ok(WebhooksPage {
        crumbs: console.crumbs(),
        heading: "Webhooks",
        webhooks_url,
        rows,
        selected,
        events,
        form_url: form.get("url").to_string(),
        form_description: form.get("description").to_string(),
        notice: extras.notice,
        error: extras.error,
        new_secret: extras.new_secret,
        layout: console.layout,
        nav: console.nav,
    })
}

fn row(webhook: &Webhook, selected: Option<&str>) -> WebhookRow {
    WebhookRow {
        id: webhook.id.to_string(),
        url: webhook.url.clone(),
        events: webhook.events.join(", "),
        description: webhook.description.clone(),
        enabled: webhook.disabled_at.is_none(),
        disabled_reason: webhook.disabled_reason.clone().unwrap_or_default(),
        created: Stamp::of(Some(webhook.created_at)),
        selected: selected == Some(webhook.id.as_str()),
    }
}

pub async fn page(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<PageQuery>,
) -> WebResult<Response> {
    let notice = match query.notice.as_deref() {
        Some("deleted") => Some("The webhook was deleted."),
        Some("redelivered") => Some("The delivery was queued again; it goes out at once."),
        _ => None,
    };
    let extras = Extras { show: query.webhook, notice, ..Extras::default() };
    render_with(&build(&state, console, extras).await?, StatusCode::OK)
}

/// Adds an endpoint and shows its secret, this once.
pub async fn create(State(state): State<AppState>, console: Console, form: FormData) -> WebResult<Response> {
    let events: Vec<String> = form.all("events").map(str::to_string).collect();
    let created = webhooks::create(
        &state,
        &console.web.caller(),
        &console.org,
        form.get("url"),
        &events,
        form.get("description"),
    )
    .await;
    match created {
        Ok(webhook) => {
            let new_secret = Some(NewSecret { url: webhook.url.clone(), secret: webhook.secret.clone() });
            let extras = Extras { show: Some(webhook.id.to_string()), new_secret, ..Extras::default() };
            render_with(&build(&state, console, extras).await?, StatusCode::CREATED)
        }
        Err(err @ ServiceError::Invalid(_)) => {
            let extras = Extras { error: Some(err.to_string()), form: Some(form), ..Extras::default() };
            render_with(&build(&state, console, extras).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    console: Console,
    Path((_, id)): Path<(String, String)>,
) -> WebResult<Response> {
    webhooks::delete(&state, &console.web.caller(), &console.org, &id).await?;
    Ok(Redirect::to(&format!("/orgs/{}/webhooks?notice=deleted", console.org.slug)).into_response())
}

pub async fn redeliver(
    State(state): State<AppState>,
    console: Console,
    Path((_, id, delivery)): Path<(String, String, String)>,
) -> WebResult<Response> {
    webhooks::redeliver(&state, &console.web.caller(), &console.org, &id, &delivery).await?;
    let to = format!("/orgs/{}/webhooks?webhook={id}&notice=redelivered", console.org.slug);
    Ok(Redirect::to(&to).into_response())
}
