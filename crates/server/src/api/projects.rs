//! `/v1/orgs/{org}/projects` and `/v1/projects/{project}`: projects and their
//! deploy hook.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::NO_STORE;
use crate::problem::Problem;
use crate::service::{projects, resolve, Caller, ServiceResult};
use crate::state::AppState;
use crate::views::ProjectView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
        .routes(routes!(set_deploy_hook, delete_deploy_hook))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub name: String,
    /// Derived from `name` when absent; unique within the organization.
    pub slug: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDeployHookRequest {
    /// An `http://` or `https://` URL that receives a signed POST per deployment.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeployHookView {
    pub url: String,
    /// The signing secret, shown only when the hook is set.
    pub secret: String,
}

/// Create a project.
#[utoipa::path(post, path = "/v1/orgs/{org}/projects", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectView), (status = 409, description = "The slug is taken", body = Problem)),
    security(("bearer" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ServiceResult<(StatusCode, axum::Json<ProjectView>)> {
    let org = resolve::org(&state, &caller, &org).await?;
    let project = projects::create_project(&state, &caller, &org, &body.name, body.slug.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json((&project).into())))
}

/// The projects of an organization that the caller can see.
#[utoipa::path(get, path = "/v1/orgs/{org}/projects", tag = "projects",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<ProjectView>)), security(("bearer" = [])))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ServiceResult<axum::Json<Vec<ProjectView>>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let projects = projects::list(&state, &caller, &org).await?;
    Ok(axum::Json(projects.iter().map(ProjectView::from).collect()))
}

/// One project.
#[utoipa::path(get, path = "/v1/projects/{project}", tag = "projects",
    params(("project" = String, Path, description = "Project id or slug")),
    responses((status = 200, body = ProjectView), (status = 409, description = "The slug is ambiguous", body = Problem)),
    security(("bearer" = [])))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ServiceResult<axum::Json<ProjectView>> {
    let project = resolve::project(&state, &caller, &project).await?;
    projects::require_read(&caller, &project)?;
    Ok(axum::Json((&project).into()))
}

/// Rename a project.
#[utoipa::path(patch, path = "/v1/projects/{project}", tag = "projects",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = UpdateProjectRequest,
    responses((status = 200, body = ProjectView), (status = 409, description = "The slug is ambiguous", body = Problem)),
    security(("bearer" = [])))]
pub async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> ServiceResult<axum::Json<ProjectView>> {
    let mut project = resolve::project(&state, &caller, &project).await?;
    if let Some(name) = &body.name {
        projects::rename(&state, &caller, &mut project, name).await?;
    }
    Ok(axum::Json((&project).into()))
}

/// Delete a project (needs `delete`): its environments, rules and
/// deployments go, and every token reaching it is revoked.
#[utoipa::path(delete, path = "/v1/projects/{project}", tag = "projects",
    params(("project" = String, Path, description = "Project id or slug")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "The slug is ambiguous", body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ServiceResult<StatusCode> {
    let project = resolve::project(&state, &caller, &project).await?;
    projects::delete(&state, &caller, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set the deploy hook; answers the signing secret once.
#[utoipa::path(put, path = "/v1/projects/{project}/deploy-hook", tag = "projects",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = SetDeployHookRequest,
    responses((status = 200, body = DeployHookView), (status = 409, description = "The slug is ambiguous", body = Problem)),
    security(("bearer" = [])))]
pub async fn set_deploy_hook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiJson(body): ApiJson<SetDeployHookRequest>,
) -> ServiceResult<([(axum::http::header::HeaderName, &'static str); 1], axum::Json<DeployHookView>)> {
    let mut project = resolve::project(&state, &caller, &project).await?;
    let hook = projects::set_deploy_hook(&state, &caller, &mut project, &body.url).await?;
    Ok((NO_STORE, axum::Json(DeployHookView { url: hook.url, secret: hook.secret })))
}

/// Remove the deploy hook.
#[utoipa::path(delete, path = "/v1/projects/{project}/deploy-hook", tag = "projects",
    params(("project" = String, Path, description = "Project id or slug")),
    responses((status = 204, description = "Removed"), (status = 409, description = "The slug is ambiguous", body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_deploy_hook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ServiceResult<StatusCode> {
    let mut project = resolve::project(&state, &caller, &project).await?;
    projects::remove_deploy_hook(&state, &caller, &mut project).await?;
    Ok(StatusCode::NO_CONTENT)
}
