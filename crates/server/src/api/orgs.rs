//! `/v1/orgs`: organizations and their plans.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gatepass_core::role::Role;
use gatepass_store::Org;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiJson;
use super::keys::{InOrg, OrgKey};
use crate::problem::Problem;
use crate::service::{orgs, Caller, ServiceResult};
use crate::state::AppState;
use crate::views::OrgView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_org, list_orgs)).routes(routes!(get_org, update_org))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub name: String,
    /// Derived from `name` when absent.
    pub slug: Option<String>,
    /// `free` (default), `pro` or `team`.
    pub plan: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    /// A new display name (org admins); the slug stays.
    pub name: Option<String>,
    /// Only instance admins change plans.
    pub plan: Option<String>,
}

/// An org with its plan usage and the caller's role in it.
async fn view(state: &AppState, caller: &Caller, org: &Org) -> ServiceResult<OrgView> {
    let usage = orgs::usage(state, org).await?;
    Ok(OrgView::new(org, caller.principal.role_in(org.id), Some(usage.into())))
}

/// Create an organization (instance admins). The creator becomes its owner.
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = 409, description = "The slug is taken", body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateOrgRequest>,
) -> ServiceResult<(StatusCode, Json<OrgView>)> {
    let org = orgs::create(&state, &caller, &body.name, body.slug.as_deref(), body.plan.as_deref()).await?;
    let usage = orgs::usage(&state, &org).await?;
    Ok((StatusCode::CREATED, Json(OrgView::new(&org, Some(Role::Owner), Some(usage.into())))))
}

/// The organizations the caller belongs to (instance admins: all).
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", responses((status = 200, body = Vec<OrgView>)))]
pub async fn list_orgs(State(state): State<AppState>, caller: Caller) -> ServiceResult<Json<Vec<OrgView>>> {
    let orgs = orgs::list(&state, &caller).await?;
    Ok(Json(orgs.iter().map(|org| OrgView::new(org, caller.principal.role_in(org.id), None)).collect()))
}

/// One organization, with its plan usage.
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs", params(OrgKey), responses((status = 200, body = OrgView)))]
pub async fn get_org(State(state): State<AppState>, InOrg { caller, org }: InOrg) -> ServiceResult<Json<OrgView>> {
    Ok(Json(view(&state, &caller, &org).await?))
}

/// Rename an organization (org admins; its slug and id stay) or change its
/// plan (instance admins). Both are checked before either is written.
#[utoipa::path(patch, path = "/v1/orgs/{org}", tag = "orgs", params(OrgKey), request_body = UpdateOrgRequest,
    responses((status = 200, body = OrgView)))]
pub async fn update_org(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiJson(body): ApiJson<UpdateOrgRequest>,
) -> ServiceResult<Json<OrgView>> {
    let org = orgs::update(&state, &caller, &org, body.name.as_deref(), body.plan.as_deref()).await?;
    Ok(Json(view(&state, &caller, &org).await?))
}
