//! `/v1/orgs/{org}/events`: the audit log.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiQuery;
use super::keys::{InOrg, OrgKey};
use crate::service::{audit, ServiceResult};
use crate::state::AppState;
use crate::views::EventView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Audit events of an organization (needs `admin`; instance admins read every org's).
#[utoipa::path(get, path = "/v1/orgs/{org}/events", tag = "audit", params(OrgKey, ListEventsQuery),
    responses((status = 200, body = Vec<EventView>)))]
pub async fn list_events(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> ServiceResult<Json<Vec<EventView>>> {
    let events = audit::list(&state, &caller, &org, query.limit.unwrap_or(100)).await?;
    Ok(Json(events.iter().map(EventView::from).collect()))
}
