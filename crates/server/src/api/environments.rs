//! `/v1/projects/{project}/environments` and `/v1/projects/{project}/branch-rules`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatepass_core::access::Area;
use gatepass_core::id::BranchRuleId;
use gatepass_core::scope::Scope;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::views::{BranchRuleView, EnvironmentView};
use super::{require_scope_in_org, resolve};
use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::project_setup;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironmentRequest {
    /// e.g. `production` or `Staging EU`: up to 63 characters, no `/`, not starting with `env_`.
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBranchRuleRequest {
    /// A glob over branch names: `main`, `release/*`, `hotfix/**`.
    pub pattern: String,
}

/// Create an environment.
#[utoipa::path(post, path = "/v1/projects/{project}/environments", tag = "environments",
    params(("project" = String, Path)), request_body = CreateEnvironmentRequest,
    responses((status = 201, body = EnvironmentView), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<CreateEnvironmentRequest>,
) -> ApiResult<(StatusCode, axum::Json<EnvironmentView>)> {
    let project = resolve::project(&state, &caller, &project).await?;
    let environment = project_setup::create_environment(&state, &caller, &project, &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json((&environment).into())))
}

/// A project's environments.
#[utoipa::path(get, path = "/v1/projects/{project}/environments", tag = "environments",
    params(("project" = String, Path)), responses((status = 200, body = Vec<EnvironmentView>)), security(("bearer" = [])))]
pub async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<axum::Json<Vec<EnvironmentView>>> {
    let project = resolve::project(&state, &caller, &project).await?;
    require_scope_in_org(&caller, project.org_id, Scope::Read)?;
    let environments = state.store.list_environments(project.id).await?;
    let visible = environments
        .iter()
        .filter(|env| caller.principal.sees(project.org_id, Some(project.id), Some(env.id)))
        .map(EnvironmentView::from)
        .collect();
    Ok(axum::Json(visible))
}

/// Delete an environment; tokens reaching only it are revoked.
#[utoipa::path(delete, path = "/v1/projects/{project}/environments/{environment}", tag = "environments",
    params(("project" = String, Path), ("environment" = String, Path, description = "Id or name")),
    responses((status = 204, description = "Deleted")), security(("bearer" = [])))]
pub async fn delete_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, environment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let project = resolve::project(&state, &caller, &project).await?;
    let environment = resolve::environment(&state, &project, &environment).await?;
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    state.store.delete_environment(environment.id, state.clock.now()).await?;
    state.verifier.cache().forget(gatepass_store::TokenChange::All);
    let details = json!({ "project": project.id, "name": environment.name });
    audit::record(
        &state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "environment.deleted",
        environment.id.as_str(),
        details,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a branch tracking rule. With rules, only matching refs deploy.
#[utoipa::path(post, path = "/v1/projects/{project}/branch-rules", tag = "branch rules",
    params(("project" = String, Path)), request_body = CreateBranchRuleRequest,
    responses((status = 201, body = BranchRuleView), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn create_branch_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<CreateBranchRuleRequest>,
) -> ApiResult<(StatusCode, axum::Json<BranchRuleView>)> {
    let project = resolve::project(&state, &caller, &project).await?;
    let rule = project_setup::add_branch_rule(&state, &caller, &project, &body.pattern).await?;
    Ok((StatusCode::CREATED, axum::Json((&rule).into())))
}

/// A project's branch tracking rules.
#[utoipa::path(get, path = "/v1/projects/{project}/branch-rules", tag = "branch rules",
    params(("project" = String, Path)), responses((status = 200, body = Vec<BranchRuleView>)), security(("bearer" = [])))]
pub async fn list_branch_rules(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<axum::Json<Vec<BranchRuleView>>> {
    let project = resolve::project(&state, &caller, &project).await?;
    require_scope_in_org(&caller, project.org_id, Scope::Read)?;
    let rules = state.store.list_branch_rules(project.id).await?;
    Ok(axum::Json(rules.iter().map(BranchRuleView::from).collect()))
}

/// Remove a branch tracking rule.
#[utoipa::path(delete, path = "/v1/projects/{project}/branch-rules/{rule}", tag = "branch rules",
    params(("project" = String, Path), ("rule" = String, Path, description = "brr_…")),
    responses((status = 204, description = "Removed")), security(("bearer" = [])))]
pub async fn delete_branch_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, rule)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let project = resolve::project(&state, &caller, &project).await?;
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let rule = BranchRuleId::parse(&rule).map_err(|_| ApiError::NotFound("branch rule"))?;
    if !state.store.delete_branch_rule(project.id, rule).await? {
        return Err(ApiError::NotFound("branch rule"));
    }
    audit::record(
        &state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "branch_rule.deleted",
        rule.as_str(),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
