//! The audit log of an org: the org console's Audit Log and a project's
//! Settings > Audit Log (the same events, in the project's frame). For org
//! admins and instance admins, as `GET /v1/orgs/{org}/events`.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::console::{Console, Crumbs};
use super::error::WebResult;
use super::layout::{render, when, Layout, ProjectNav};
use crate::service::audit;
use crate::state::AppState;

/// How many events the page shows, newest first.
const SHOWN: u32 = 200;

pub struct EventRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub from: String,
}

#[derive(Template)]
#[template(path = "audit_log.html")]
struct AuditLogPage {
    layout: Layout,
    nav: Option<ProjectNav>,
    crumbs: Crumbs,
    heading: &'static str,
    rows: Vec<EventRow>,
}

pub async fn page(State(state): State<AppState>, console: Console) -> WebResult<Response> {
    let console = console.at("audit-log", "Audit Log");
    let events = audit::list(&state, &console.web.caller(), &console.org, SHOWN).await?;
    let rows = events
        .into_iter()
        .map(|event| EventRow {
            at: when(event.at),
            actor: event.actor.label,
            action: event.action,
            target: event.target,
            from: event.client_ip.unwrap_or_default(),
        })
        .collect();
    render(&AuditLogPage {
        crumbs: console.crumbs(),
        heading: "Audit Log",
        rows,
        layout: console.layout,
        nav: console.nav,
    })
}
