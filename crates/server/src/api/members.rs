//! `/v1/orgs/{org}/members`: who belongs to an org, with which role.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gatepass_core::role::Role;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::keys::{InOrg, MemberKey, OrgKey};
use super::pages::{NoFilter, PageParams, Paged};
use crate::problem::Problem;
use crate::service::pages;
use crate::service::{members, ServiceResult};
use crate::state::AppState;
use crate::views::MemberView;
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_members, add_member)).routes(routes!(update_member, remove_member))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The email of an existing user.
    pub email: String,
    /// `owner`, `admin` or `member` (default).
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: String,
}

/// The members of an organization.
#[utoipa::path(get, path = "/v1/orgs/{org}/members", tag = "members", params(OrgKey, PageParams),
    responses((status = 200, body = Vec<MemberView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_members(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let members = members::list(&state, &caller, &org).await?;
    let page = pages::in_memory(members, |member| member.email.clone(), &paged.page);
    Ok(paged.answer(&state, page.map(|member| MemberView::from(&member))))
}

/// Add an existing user to the organization.
#[utoipa::path(post, path = "/v1/orgs/{org}/members", tag = "members", params(OrgKey), request_body = AddMemberRequest,
    responses((status = 201, body = MemberView), (status = 409, description = "Already a member", body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> ServiceResult<(StatusCode, Json<MemberView>)> {
    let role = body.role.as_deref().map(members::parse_role).transpose()?.unwrap_or(Role::Member);
    let member = members::add(&state, &caller, &org, &body.email, role).await?;
    Ok((StatusCode::CREATED, Json((&member).into())))
}

/// Change a member's role. The last owner cannot be demoted.
#[utoipa::path(patch, path = "/v1/orgs/{org}/members/{user}", tag = "members", params(MemberKey),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberView), (status = 409, description = "The last owner would go", body = Problem)))]
pub async fn update_member(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<MemberKey>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ServiceResult<Json<MemberView>> {
    let role = members::parse_role(&body.role)?;
    Ok(Json((&members::change_role(&state, &caller, &org, &key.user, role).await?).into()))
}

/// Remove a member. The last owner cannot be removed.
#[utoipa::path(delete, path = "/v1/orgs/{org}/members/{user}", tag = "members", params(MemberKey),
    responses((status = 204, description = "Removed"), (status = 409, description = "The last owner would go", body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<MemberKey>,
) -> ServiceResult<StatusCode> {
    members::remove(&state, &caller, &org, &key.user).await?;
    Ok(StatusCode::NO_CONTENT)
}
