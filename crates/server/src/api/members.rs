//! `/v1/orgs/{org}/members`: who belongs to an org, with which role.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatepass_core::access::Area;
use gatepass_core::id::UserId;
use gatepass_core::name::Email;
use gatepass_core::role::Role;
use gatepass_core::scope::Scope;
use gatepass_store::Org;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::views::MemberView;
use super::{require_scope_in_org, resolve};
use crate::audit;
use crate::auth::Caller;
use crate::error::{invalid, ApiError, ApiResult, Problem};
use crate::state::AppState;

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

fn parse_role(text: &str) -> ApiResult<Role> {
    Role::parse(text).ok_or_else(|| ApiError::Invalid(format!("unknown role {text:?} (use owner, admin or member)")))
}

/// Admins manage members; only owners hand out or take away ownership.
fn check_may_manage(caller: &Caller, org: &Org, roles: &[Role]) -> ApiResult<()> {
    caller.principal.authorize(Scope::Admin, org.id, Area::Org)?;
    if roles.contains(&Role::Owner) && caller.principal.role_in(org.id) != Some(Role::Owner) {
        return Err(ApiError::Forbidden("only owners grant or remove the owner role".into()));
    }
    Ok(())
}

async fn ensure_an_owner_remains(state: &AppState, org: &Org, leaving: UserId) -> ApiResult<()> {
    let members = state.store.list_members(org.id).await?;
    if !members.iter().any(|m| m.role == Role::Owner && m.user_id != leaving) {
        return Err(ApiError::Conflict("an organization needs at least one owner".into()));
    }
    Ok(())
}

/// The members of an organization.
#[utoipa::path(get, path = "/v1/orgs/{org}/members", tag = "members", params(("org" = String, Path)),
    responses((status = 200, body = Vec<MemberView>)), security(("bearer" = [])))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<Vec<MemberView>>> {
    let org = resolve::org(&state, &caller, &org).await?;
    require_scope_in_org(&caller, org.id, Scope::Read)?;
    let members = state.store.list_members(org.id).await?;
    Ok(axum::Json(members.iter().map(MemberView::from).collect()))
}

/// Add an existing user to the organization.
#[utoipa::path(post, path = "/v1/orgs/{org}/members", tag = "members", params(("org" = String, Path)),
    request_body = AddMemberRequest, responses((status = 201, body = MemberView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, axum::Json<MemberView>)> {
    let org = resolve::org(&state, &caller, &org).await?;
    let role = body.role.as_deref().map(parse_role).transpose()?.unwrap_or(Role::Member);
    check_may_manage(&caller, &org, &[role])?;
    let email = Email::parse(&body.email).map_err(invalid)?;
    let user = state.store.find_user_by_email(email.as_str()).await?.ok_or_else(|| {
        ApiError::Invalid(format!(
            "no user has the email {email}; an instance admin creates users (gatepass admin create, or POST /v1/users)"
        ))
    })?;
    state.store.add_member(org.id, user.id, role, state.clock.now()).await?;
    let details = json!({ "email": user.email, "role": role.as_str() });
    audit::record(&state, Some(org.id), &caller.actor(), caller.client_ip, "member.added", user.id.as_str(), details)
        .await;
    let member = state.store.list_members(org.id).await?.into_iter().find(|m| m.user_id == user.id);
    let member = member.ok_or(ApiError::Internal)?;
    Ok((StatusCode::CREATED, axum::Json((&member).into())))
}

/// Change a member's role.
#[utoipa::path(patch, path = "/v1/orgs/{org}/members/{user}", tag = "members",
    params(("org" = String, Path), ("user" = String, Path, description = "usr_…")),
    request_body = UpdateMemberRequest, responses((status = 200, body = MemberView)), security(("bearer" = [])))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ApiResult<axum::Json<MemberView>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let user = UserId::parse(&user).map_err(|_| ApiError::NotFound("member"))?;
    let role = parse_role(&body.role)?;
    let members = state.store.list_members(org.id).await?;
    let current = members.iter().find(|m| m.user_id == user).ok_or(ApiError::NotFound("member"))?;
    check_may_manage(&caller, &org, &[role, current.role])?;
    if current.role == Role::Owner && role != Role::Owner {
        ensure_an_owner_remains(&state, &org, user).await?;
    }
    state.store.set_member_role(org.id, user, role).await?;
    let details = json!({ "from": current.role.as_str(), "to": role.as_str() });
    audit::record(
        &state,
        Some(org.id),
        &caller.actor(),
        caller.client_ip,
        "member.role_changed",
        user.as_str(),
        details,
    )
    .await;
    let mut member = current.clone();
    member.role = role;
    Ok(axum::Json((&member).into()))
}

/// Remove a member.
#[utoipa::path(delete, path = "/v1/orgs/{org}/members/{user}", tag = "members",
    params(("org" = String, Path), ("user" = String, Path)),
    responses((status = 204, description = "Removed")), security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = resolve::org(&state, &caller, &org).await?;
    let user = UserId::parse(&user).map_err(|_| ApiError::NotFound("member"))?;
    let members = state.store.list_members(org.id).await?;
    let current = members.iter().find(|m| m.user_id == user).ok_or(ApiError::NotFound("member"))?;
    check_may_manage(&caller, &org, &[current.role])?;
    if current.role == Role::Owner {
        ensure_an_owner_remains(&state, &org, user).await?;
    }
    state.store.remove_member(org.id, user).await?;
    let details = json!({ "email": current.email });
    audit::record(&state, Some(org.id), &caller.actor(), caller.client_ip, "member.removed", user.as_str(), details)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
