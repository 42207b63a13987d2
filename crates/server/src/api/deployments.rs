//! `/v1/projects/{project}/deployments`, `/v1/deployments/{id}` and its
//! status history, `/v1/deployments/{id}/statuses`.

use axum::extract::State;
use axum::http::StatusCode;
use gatepass_store::Deployment;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::keys::{DeploymentKey, InProject, ProjectKey};
use super::pages::{NoFilter, PageParams, Paged};
use crate::problem::Problem;
use crate::service::deployments::{self, DeployRequest, StatusRequest};
use crate::service::pages::{self, Page};
use crate::service::{resolve, Caller, ServiceResult};
use crate::state::AppState;
use crate::views::{DeploymentStatusView, DeploymentView};
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deployments, create_deployment))
        .routes(routes!(get_deployment))
        .routes(routes!(archive_deployment))
        .routes(routes!(list_deployment_statuses, create_deployment_status))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeploymentStatusRequest {
    /// `in_progress`, `succeeded`, `failed` or `cancelled` (or `queued`).
    /// States only move forward, and nothing leaves `succeeded`, `failed` or
    /// `cancelled`; `in_progress` may be reported again with news.
    #[schema(example = "in_progress")]
    pub state: String,
    #[serde(default)]
    pub description: String,
    /// Where the rollout's log is (`http://` or `https://`).
    pub log_url: Option<String>,
    /// Where the deployed app answers (`http://` or `https://`).
    pub environment_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeploymentRequest {
    /// Environment id or name.
    pub environment: String,
    /// The git ref to deploy, e.g. `main` or `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit SHA (hex, 4–64 characters).
    pub commit: String,
    #[serde(default)]
    pub description: String,
}

async fn view(state: &AppState, deployment: &Deployment) -> ServiceResult<DeploymentView> {
    Ok(DeploymentView::new(deployment, deployments::environment_name(state, deployment).await?))
}

/// Record a deployment (needs `deploy` reaching the environment). Checks the
/// branch tracking rules and notifies the deploy hook.
#[utoipa::path(post, path = "/v1/projects/{project}/deployments", tag = "deployments",
    params(ProjectKey), request_body = CreateDeploymentRequest,
    responses((status = 201, body = DeploymentView),
        (status = 422, description = "Ref outside the branch tracking rules, or an invalid field", body = Problem)))]
pub async fn create_deployment(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiJson(body): ApiJson<CreateDeploymentRequest>,
) -> ServiceResult<(StatusCode, axum::Json<DeploymentView>)> {
    let environment = resolve::environment(&state, &project, &body.environment).await?;
    let request = DeployRequest { git_ref: &body.git_ref, commit: &body.commit, description: &body.description };
    let deployment = deployments::create(&state, &caller, &project, &environment, request).await?;
    Ok((StatusCode::CREATED, axum::Json(DeploymentView::new(&deployment, Some(environment.name)))))
}

/// A project's deployments, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/deployments", tag = "deployments",
    params(ProjectKey, PageParams), responses((status = 200, body = Vec<DeploymentView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_deployments(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let page = deployments::list_page(&state, &caller, &project, &paged.page).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for deployment in &page.items {
        views.push(view(&state, deployment).await?);
    }
    Ok(paged.answer(&state, Page { items: views, next: page.next }))
}

/// One deployment: its state, its hook delivery status and the URLs its
/// runner reported (needs `read`, or `deploy` reaching it).
#[utoipa::path(get, path = "/v1/deployments/{id}", tag = "deployments",
    params(DeploymentKey), responses((status = 200, body = DeploymentView)))]
pub async fn get_deployment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<DeploymentKey>,
) -> ServiceResult<axum::Json<DeploymentView>> {
    let deployment = deployments::find(&state, &caller, &key.id).await?;
    deployments::require_read(&caller, &deployment)?;
    Ok(axum::Json(view(&state, &deployment).await?))
}

/// Archive a deployment (needs `delete`), whatever its state.
#[utoipa::path(post, path = "/v1/deployments/{id}/archive", tag = "deployments",
    params(DeploymentKey), responses((status = 200, body = DeploymentView)))]
pub async fn archive_deployment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<DeploymentKey>,
) -> ServiceResult<axum::Json<DeploymentView>> {
    let mut deployment = deployments::find(&state, &caller, &key.id).await?;
    deployments::archive(&state, &caller, &mut deployment).await?;
    Ok(axum::Json(view(&state, &deployment).await?))
}

/// Report a deployment's state (needs `deploy` reaching the deployment): what
/// a runner calls, with the `status_url` of the deploy hook event.
#[utoipa::path(post, path = "/v1/deployments/{id}/statuses", tag = "deployments",
    params(DeploymentKey), request_body = CreateDeploymentStatusRequest,
    responses((status = 201, body = DeploymentStatusView),
        (status = 409, description = "The deployment cannot move to this state from the one it is in (both are named)", body = Problem),
        (status = 422, description = "An unknown state, `archived`, or a URL that is not http(s)", body = Problem)))]
pub async fn create_deployment_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<DeploymentKey>,
    ApiJson(body): ApiJson<CreateDeploymentStatusRequest>,
) -> ServiceResult<(StatusCode, axum::Json<DeploymentStatusView>)> {
    let mut deployment = deployments::find(&state, &caller, &key.id).await?;
    let request = StatusRequest {
        state: &body.state,
        description: &body.description,
        log_url: body.log_url.as_deref(),
        environment_url: body.environment_url.as_deref(),
    };
    let report = deployments::report(&state, &caller, &mut deployment, request).await?;
    Ok((StatusCode::CREATED, axum::Json((&report).into())))
}

/// A deployment's status history, oldest first, with who reported each state.
#[utoipa::path(get, path = "/v1/deployments/{id}/statuses", tag = "deployments",
    params(DeploymentKey, PageParams),
    responses((status = 200, body = Vec<DeploymentStatusView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_deployment_statuses(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<DeploymentKey>,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let deployment = deployments::find(&state, &caller, &key.id).await?;
    let history = deployments::history(&state, &caller, &deployment).await?;
    // The history only grows: its position is a stable key.
    let numbered: Vec<(usize, gatepass_store::StatusReport)> = history.into_iter().enumerate().collect();
    let page = pages::in_memory(numbered, |(n, _)| format!("{n:08}"), &paged.page);
    Ok(paged.answer(&state, page.map(|(_, report)| DeploymentStatusView::from(&report))))
}
