//! `/v1/orgs/{org}/events`: the audit log.

use axum::extract::{Path, State};
use gatepass_core::access::Area;
use gatepass_core::scope::Scope;
use serde::Deserialize;

use super::extract::ApiQuery;
use super::resolve;
use super::views::EventView;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEventsQuery {
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Audit events of an organization (needs `admin`).
#[utoipa::path(get, path = "/v1/orgs/{org}/events", tag = "audit", params(("org" = String, Path), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Vec<EventView>)), security(("bearer" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> ApiResult<axum::Json<Vec<EventView>>> {
    let org = resolve::org(&state, &caller, &org).await?;
    caller.principal.authorize(Scope::Admin, org.id, Area::Org)?;
    let events = state.store.list_events(Some(org.id), query.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(axum::Json(events.iter().map(EventView::from).collect()))
}
