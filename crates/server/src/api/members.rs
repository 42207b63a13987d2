//! `/v1/orgs/{org}/members`: who belongs to an org, with which role.

use axum::extract::State;
use axum::http::StatusCode;
use gatepass_core::role::Role;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use crate::problem::Problem;
use crate::service::{members, resolve, Caller, ServiceResult};
use crate::state::AppState;
use crate::views::MemberView;

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
#[utoipa::path(get, path = "/v1/orgs/{org}/members", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<MemberView>)), security(("bearer" = [])))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ServiceResult<axum::Json<Vec<MemberView>>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let members = members::list(&state, &caller, &org).await?;
    Ok(axum::Json(members.iter().map(MemberView::from).collect()))
}

/// Add an existing user to the organization.
#[utoipa::path(post, path = "/v1/orgs/{org}/members", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = AddMemberRequest,
    responses((status = 201, body = MemberView), (status = 409, description = "Already a member", body = Problem)),
    security(("bearer" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> ServiceResult<(StatusCode, axum::Json<MemberView>)> {
    let org = resolve::org(&state, &caller, &org).await?;
    let role = body.role.as_deref().map(members::parse_role).transpose()?.unwrap_or(Role::Member);
    let member = members::add(&state, &caller, &org, &body.email, role).await?;
    Ok((StatusCode::CREATED, axum::Json((&member).into())))
}

/// Change a member's role. The last owner cannot be demoted.
#[utoipa::path(patch, path = "/v1/orgs/{org}/members/{user}", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "usr_…")),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberView), (status = 409, description = "The last owner would go", body = Problem)),
    security(("bearer" = [])))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org, user)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ServiceResult<axum::Json<MemberView>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let role = members::parse_role(&body.role)?;
    let member = members::change_role(&state, &caller, &org, &user, role).await?;
    Ok(axum::Json((&member).into()))
}

/// Remove a member. The last owner cannot be removed.
#[utoipa::path(delete, path = "/v1/orgs/{org}/members/{user}", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("user" = String, Path, description = "usr_…")),
    responses((status = 204, description = "Removed"), (status = 409, description = "The last owner would go", body = Problem)),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org, user)): ApiPath<(String, String)>,
) -> ServiceResult<StatusCode> {
    let org = resolve::org(&state, &caller, &org).await?;
    members::remove(&state, &caller, &org, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
