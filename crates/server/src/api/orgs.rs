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
use super::pages::{NoFilter, PageParams, Paged};
use crate::problem::Problem;
use crate::service::pages;
use crate::service::{orgs, token_policy, Caller, ServiceResult};
use crate::state::AppState;
use crate::views::OrgView;
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_org, list_orgs)).routes(routes!(get_org, update_org, delete_org))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub name: String,
    /// Derived from `name` when absent.
    pub slug: Option<String>,
    /// `free` (default), `pro` or `team`.
    pub plan: Option<String>,
    /// The email of an existing user who becomes the owner; the caller by default.
    pub owner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    /// A new display name (org admins); the slug stays.
    pub name: Option<String>,
    /// Only instance admins change plans.
    pub plan: Option<String>,
    /// The org's rules for token lifetimes (org admins). Tokens that break
    /// new rules are reported (`tokens_out_of_policy`), not revoked.
    pub policy: Option<PolicyRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// The longest a token may live from its issue or rotation (`90d`,
    /// `720h`); `null` or absent for no limit.
    #[schema(example = "90d")]
    pub max_token_lifetime: Option<String>,
    /// Whether every token must have an expiry.
    #[serde(default)]
    pub require_expiry: bool,
}

/// An org with its plan usage, token policy and the caller's role in it.
async fn view(state: &AppState, caller: &Caller, org: &Org) -> ServiceResult<OrgView> {
    let usage = orgs::usage(state, org).await?;
    let report = token_policy::report(state, org).await?;
    let mut view = OrgView::new(org, caller.principal.role_in(org.id), Some(usage.into()));
    view.policy = Some((&report.policy).into());
    view.tokens_out_of_policy = Some(report.tokens_out_of_policy);
    Ok(view)
}

/// Create an organization (instance admins). The creator becomes its owner,
/// or the existing user named by `owner`.
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = 409, description = "The slug is taken", body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateOrgRequest>,
) -> ServiceResult<(StatusCode, Json<OrgView>)> {
    let (slug, plan) = (body.slug.as_deref(), body.plan.as_deref());
    let (org, owner) = match body.owner.as_deref() {
        Some(owner) => {
            let org = orgs::create_for(&state, &caller, owner, &body.name, slug, plan).await?;
            let mine = caller.user.as_ref().is_some_and(|user| user.email.eq_ignore_ascii_case(owner.trim()));
            (org, mine)
        }
        None => (orgs::create(&state, &caller, &body.name, slug, plan).await?, true),
    };
    let usage = orgs::usage(&state, &org).await?;
    Ok((StatusCode::CREATED, Json(OrgView::new(&org, owner.then_some(Role::Owner), Some(usage.into())))))
}

/// The organizations the caller belongs to (instance admins: all).
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", params(PageParams),
    responses((status = 200, body = Vec<OrgView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_orgs(
    State(state): State<AppState>,
    caller: Caller,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let orgs = orgs::list(&state, &caller).await?;
    let page = pages::in_memory(orgs, |org| org.slug.clone(), &paged.page);
    Ok(paged.answer(&state, page.map(|org| OrgView::new(&org, caller.principal.role_in(org.id), None))))
}

/// One organization, with its plan usage.
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs", params(OrgKey), responses((status = 200, body = OrgView)))]
pub async fn get_org(State(state): State<AppState>, InOrg { caller, org }: InOrg) -> ServiceResult<Json<OrgView>> {
    Ok(Json(view(&state, &caller, &org).await?))
}

/// Rename an organization (org admins; its slug and id stay), change its
/// plan (instance admins) or its token policy (org admins). Each is checked
/// before any is written.
#[utoipa::path(patch, path = "/v1/orgs/{org}", tag = "orgs", params(OrgKey), request_body = UpdateOrgRequest,
    responses((status = 200, body = OrgView)))]
pub async fn update_org(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiJson(body): ApiJson<UpdateOrgRequest>,
) -> ServiceResult<Json<OrgView>> {
    let policy = match &body.policy {
        Some(policy) => {
            caller.principal.may_set_token_policy(org.id)?;
            Some(token_policy::parse_policy(policy.max_token_lifetime.as_deref(), policy.require_expiry)?)
        }
        None => None,
    };
    let org = orgs::update(&state, &caller, &org, body.name.as_deref(), body.plan.as_deref()).await?;
    if let Some(policy) = policy {
        token_policy::set_policy(&state, &caller, &org, policy).await?;
    }
    Ok(Json(view(&state, &caller, &org).await?))
}

/// Delete an organization (its owners only) with its projects, environments,
/// rules, deployments and members. Every token of it stops working at once;
/// the audit trail stays.
#[utoipa::path(delete, path = "/v1/orgs/{org}", tag = "orgs", params(OrgKey),
    responses((status = 204, description = "Deleted; every token of the organization is revoked")))]
pub async fn delete_org(State(state): State<AppState>, InOrg { caller, org }: InOrg) -> ServiceResult<StatusCode> {
    orgs::delete(&state, &caller, &org).await?;
    Ok(StatusCode::NO_CONTENT)
}
