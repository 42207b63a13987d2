//! `/v1/orgs`: organizations and their plans.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatepass_core::access::{Area, Principal};
use gatepass_core::id::OrgId;
use gatepass_core::name::{DisplayName, Slug};
use gatepass_core::plan::Plan;
use gatepass_core::scope::Scope;
use gatepass_store::Org;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::resolve;
use super::views::{OrgView, UsageView};
use crate::audit;
use crate::auth::Caller;
use crate::error::{invalid, ApiError, ApiResult, Problem};
use crate::state::AppState;

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

fn parse_plan(text: &str) -> ApiResult<Plan> {
    Plan::parse(text).ok_or_else(|| ApiError::Invalid(format!("unknown plan {text:?} (use free, pro or team)")))
}

pub async fn usage(state: &AppState, org: &Org) -> ApiResult<UsageView> {
    Ok(UsageView {
        active_tokens: state.store.count_active_tokens(org.id, state.clock.now()).await?,
        token_limit: org.plan.active_token_limit(),
    })
}

/// Create an organization (instance admins). The creator becomes its owner.
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateOrgRequest>,
) -> ApiResult<(StatusCode, axum::Json<OrgView>)> {
    let Some(user) = caller.user.as_ref().filter(|user| user.instance_admin) else {
        return Err(ApiError::Forbidden("only instance admins create organizations".into()));
    };
    let name = DisplayName::parse("name", &body.name).map_err(invalid)?;
    let slug = match &body.slug {
        Some(slug) => Slug::parse("slug", slug).map_err(invalid)?,
        None => Slug::derive_from(name.as_str())
            .ok_or_else(|| ApiError::Invalid("cannot derive a slug from this name; give \"slug\"".into()))?,
    };
    let plan = body.plan.as_deref().map(parse_plan).transpose()?.unwrap_or(Plan::Free);
    let org = Org {
        id: OrgId::generate(),
        name: name.into_string(),
        slug: slug.into_string(),
        plan,
        created_at: state.clock.now(),
    };
    state.store.create_org(&org, user.id).await?;
    let details = json!({ "slug": org.slug, "plan": plan.as_str() });
    audit::record(&state, Some(org.id), &caller.actor(), caller.client_ip, "org.created", org.id.as_str(), details)
        .await;
    let usage = usage(&state, &org).await?;
    Ok((StatusCode::CREATED, axum::Json(OrgView::new(&org, Some(gatepass_core::role::Role::Owner), Some(usage)))))
}

/// The organizations the caller belongs to (instance admins: all).
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", responses((status = 200, body = Vec<OrgView>)),
    security(("bearer" = [])))]
pub async fn list_orgs(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Vec<OrgView>>> {
    let orgs: Vec<Org> = match &caller.principal {
        Principal::Token(token) => state.store.find_org(token.org_id).await?.into_iter().collect(),
        Principal::User(user) if user.instance_admin => state.store.list_orgs().await?,
        Principal::User(user) => state.store.memberships(user.user_id).await?.into_iter().map(|(org, _)| org).collect(),
    };
    let views = orgs.iter().map(|org| OrgView::new(org, caller.principal.role_in(org.id), None)).collect();
    Ok(axum::Json(views))
}

/// One organization, with its plan usage.
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs", params(("org" = String, Path)),
    responses((status = 200, body = OrgView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<OrgView>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let usage = usage(&state, &org).await?;
    Ok(axum::Json(OrgView::new(&org, caller.principal.role_in(org.id), Some(usage))))
}

/// Rename an organization (org admins; its slug and id stay) or change its
/// plan (instance admins). Both are checked before either is written.
#[utoipa::path(patch, path = "/v1/orgs/{org}", tag = "orgs", params(("org" = String, Path)),
    request_body = UpdateOrgRequest, responses((status = 200, body = OrgView), (status = 403, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn update_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<UpdateOrgRequest>,
) -> ApiResult<axum::Json<OrgView>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let name = body.name.as_deref().map(|name| DisplayName::parse("name", name).map_err(invalid)).transpose()?;
    if name.is_some() {
        caller.principal.authorize(Scope::Admin, org.id, Area::Org)?;
    }
    let plan = body.plan.as_deref().map(parse_plan).transpose()?;
    if plan.is_some() && !caller.principal.is_instance_admin() {
        return Err(ApiError::Forbidden("only instance admins change plans".into()));
    }
    if let Some(name) = name.filter(|name| name.as_str() != org.name) {
        state.store.rename_org(org.id, name.as_str()).await?;
        let details = json!({ "from": org.name, "to": name.as_str() });
        audit::record(&state, Some(org.id), &caller.actor(), caller.client_ip, "org.renamed", org.id.as_str(), details)
            .await;
    }
    if let Some(plan) = plan {
        state.store.set_plan(org.id, plan).await?;
        let details = json!({ "from": org.plan.as_str(), "to": plan.as_str() });
        audit::record(
            &state,
            Some(org.id),
            &caller.actor(),
            caller.client_ip,
            "org.plan_changed",
            org.id.as_str(),
            details,
        )
        .await;
    }
    let org = state.store.find_org(org.id).await?.ok_or(ApiError::NotFound("organization"))?;
    let usage = usage(&state, &org).await?;
    Ok(axum::Json(OrgView::new(&org, caller.principal.role_in(org.id), Some(usage))))
}
