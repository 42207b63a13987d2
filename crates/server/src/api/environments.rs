//! `/v1/projects/{project}/environments` and `/v1/projects/{project}/branch-rules`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::keys::{BranchRuleKey, EnvironmentKey, InProject, ProjectKey};
use super::pages::{NoFilter, PageParams, Paged};
use crate::problem::Problem;
use crate::service::pages;
use crate::service::{deployments, projects, resolve, ServiceResult};
use crate::state::AppState;
use crate::views::{BranchRuleView, EnvironmentView};
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_environments, create_environment))
        .routes(routes!(get_environment, delete_environment))
        .routes(routes!(list_branch_rules, create_branch_rule))
        .routes(routes!(delete_branch_rule))
}

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
#[utoipa::path(post, path = "/v1/projects/{project}/environments", tag = "environments", params(ProjectKey),
    request_body = CreateEnvironmentRequest,
    responses((status = 201, body = EnvironmentView), (status = 409, description = "The name is taken", body = Problem)))]
pub async fn create_environment(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiJson(body): ApiJson<CreateEnvironmentRequest>,
) -> ServiceResult<(StatusCode, Json<EnvironmentView>)> {
    let environment = projects::create_environment(&state, &caller, &project, &body.name).await?;
    Ok((StatusCode::CREATED, Json((&environment).into())))
}

/// A project's environments, each with its current (last succeeded) deployment.
#[utoipa::path(get, path = "/v1/projects/{project}/environments", tag = "environments", params(ProjectKey, PageParams),
    responses((status = 200, body = Vec<EnvironmentView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_environments(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let environments = projects::list_environments(&state, &caller, &project).await?;
    let current = deployments::current_deployments(&state, &project).await?;
    let page = pages::in_memory(environments, |env| env.name.clone(), &paged.page);
    Ok(paged.answer(&state, page.map(|env| EnvironmentView::new(&env, current.get(&env.id)))))
}

/// One environment, with its current (last succeeded) deployment.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{environment}", tag = "environments",
    params(EnvironmentKey), responses((status = 200, body = EnvironmentView)))]
pub async fn get_environment(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiPath(key): ApiPath<EnvironmentKey>,
) -> ServiceResult<Json<EnvironmentView>> {
    let environment = projects::find_environment(&state, &caller, &project, &key.environment).await?;
    let current = deployments::current_deployments(&state, &project).await?;
    Ok(Json(EnvironmentView::new(&environment, current.get(&environment.id))))
}

/// Delete an environment; tokens reaching only it are revoked.
#[utoipa::path(delete, path = "/v1/projects/{project}/environments/{environment}", tag = "environments",
    params(EnvironmentKey), responses((status = 204, description = "Deleted")))]
pub async fn delete_environment(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiPath(key): ApiPath<EnvironmentKey>,
) -> ServiceResult<StatusCode> {
    let environment = resolve::environment(&state, &project, &key.environment).await?;
    projects::delete_environment(&state, &caller, &project, &environment).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a branch tracking rule. With rules, only matching refs deploy.
#[utoipa::path(post, path = "/v1/projects/{project}/branch-rules", tag = "branch rules", params(ProjectKey),
    request_body = CreateBranchRuleRequest,
    responses((status = 201, body = BranchRuleView), (status = 409, description = "The pattern exists already", body = Problem)))]
pub async fn create_branch_rule(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiJson(body): ApiJson<CreateBranchRuleRequest>,
) -> ServiceResult<(StatusCode, Json<BranchRuleView>)> {
    let rule = projects::add_branch_rule(&state, &caller, &project, &body.pattern).await?;
    Ok((StatusCode::CREATED, Json((&rule).into())))
}

/// A project's branch tracking rules.
#[utoipa::path(get, path = "/v1/projects/{project}/branch-rules", tag = "branch rules", params(ProjectKey, PageParams),
    responses((status = 200, body = Vec<BranchRuleView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_branch_rules(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let rules = projects::list_branch_rules(&state, &caller, &project).await?;
    let page = pages::in_memory(rules, |rule| rule.pattern.clone(), &paged.page);
    Ok(paged.answer(&state, page.map(|rule| BranchRuleView::from(&rule))))
}

/// Remove a branch tracking rule.
#[utoipa::path(delete, path = "/v1/projects/{project}/branch-rules/{rule}", tag = "branch rules",
    params(BranchRuleKey), responses((status = 204, description = "Removed")))]
pub async fn delete_branch_rule(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiPath(key): ApiPath<BranchRuleKey>,
) -> ServiceResult<StatusCode> {
    projects::delete_branch_rule(&state, &caller, &project, &key.rule).await?;
    Ok(StatusCode::NO_CONTENT)
}
