//! `/v1/projects/{project}/deployments` and `/v1/deployments/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use gatepass_store::Deployment;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::keys::{DeploymentKey, InProject, ProjectKey};
use crate::problem::Problem;
use crate::service::deployments::{self, DeployRequest};
use crate::service::{resolve, Caller, ServiceResult};
use crate::state::AppState;
use crate::views::DeploymentView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deployments, create_deployment))
        .routes(routes!(get_deployment))
        .routes(routes!(archive_deployment))
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDeploymentsQuery {
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<u32>,
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
    params(ProjectKey, ListDeploymentsQuery), responses((status = 200, body = Vec<DeploymentView>)))]
pub async fn list_deployments(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiQuery(query): ApiQuery<ListDeploymentsQuery>,
) -> ServiceResult<axum::Json<Vec<DeploymentView>>> {
    let deployments = deployments::list(&state, &caller, &project, query.limit.unwrap_or(50)).await?;
    let mut views = Vec::with_capacity(deployments.len());
    for deployment in &deployments {
        views.push(view(&state, deployment).await?);
    }
    Ok(axum::Json(views))
}

/// One deployment (its hook delivery status included).
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

/// Archive a deployment (needs `delete`).
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
