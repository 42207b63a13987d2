//! `/v1/orgs/{org}/projects` and `/v1/projects/{project}`: projects and their
//! deploy hook.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiJson;
use super::keys::{InOrg, InProject, OrgKey, ProjectKey};
use super::pages::{NoFilter, PageParams, Paged};
use super::{NoStore, NO_STORE};
use crate::problem::Problem;
use crate::service::pages;
use crate::service::projects::{self, ProjectUpdate};
use crate::service::ServiceResult;
use crate::state::AppState;
use crate::views::ProjectView;
use axum::response::Response;

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
    /// How long a deployment may stay `in_progress` before it is failed as
    /// timed out: `1m` to `168h`, e.g. `90m` or `2h` (default `1h`).
    #[schema(example = "2h")]
    pub deploy_timeout: Option<String>,
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
#[utoipa::path(post, path = "/v1/orgs/{org}/projects", tag = "projects", params(OrgKey), request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectView), (status = 409, description = "The slug is taken", body = Problem)))]
pub async fn create_project(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ServiceResult<(StatusCode, Json<ProjectView>)> {
    let project = projects::create_project(&state, &caller, &org, &body.name, body.slug.as_deref()).await?;
    Ok((StatusCode::CREATED, Json((&project).into())))
}

/// The projects of an organization that the caller can see.
#[utoipa::path(get, path = "/v1/orgs/{org}/projects", tag = "projects", params(OrgKey, PageParams),
    responses((status = 200, body = Vec<ProjectView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_projects(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let projects = projects::list(&state, &caller, &org).await?;
    let page = pages::in_memory(projects, |project| project.slug.clone(), &paged.page);
    Ok(paged.answer(&state, page.map(|project| ProjectView::from(&project))))
}

/// One project.
#[utoipa::path(get, path = "/v1/projects/{project}", tag = "projects", params(ProjectKey),
    responses((status = 200, body = ProjectView)))]
pub async fn get_project(InProject { caller, project }: InProject) -> ServiceResult<Json<ProjectView>> {
    projects::require_read(&caller, &project)?;
    Ok(Json((&project).into()))
}

/// Rename a project or change its deploy timeout (needs `admin`).
#[utoipa::path(patch, path = "/v1/projects/{project}", tag = "projects", params(ProjectKey),
    request_body = UpdateProjectRequest, responses((status = 200, body = ProjectView)))]
pub async fn update_project(
    State(state): State<AppState>,
    InProject { caller, mut project }: InProject,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> ServiceResult<Json<ProjectView>> {
    let update = ProjectUpdate { name: body.name.as_deref(), deploy_timeout: body.deploy_timeout.as_deref() };
    projects::update(&state, &caller, &mut project, update).await?;
    Ok(Json((&project).into()))
}

/// Delete a project (needs `delete`): its environments, rules and
/// deployments go, and every token reaching it is revoked.
#[utoipa::path(delete, path = "/v1/projects/{project}", tag = "projects", params(ProjectKey),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_project(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
) -> ServiceResult<StatusCode> {
    projects::delete(&state, &caller, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set the deploy hook; answers the signing secret once.
#[utoipa::path(put, path = "/v1/projects/{project}/deploy-hook", tag = "projects", params(ProjectKey),
    request_body = SetDeployHookRequest, responses((status = 200, body = DeployHookView)))]
pub async fn set_deploy_hook(
    State(state): State<AppState>,
    InProject { caller, mut project }: InProject,
    ApiJson(body): ApiJson<SetDeployHookRequest>,
) -> ServiceResult<(NoStore, Json<DeployHookView>)> {
    let hook = projects::set_deploy_hook(&state, &caller, &mut project, &body.url).await?;
    Ok((NO_STORE, Json(DeployHookView { url: hook.url, secret: hook.secret })))
}

/// Remove the deploy hook.
#[utoipa::path(delete, path = "/v1/projects/{project}/deploy-hook", tag = "projects", params(ProjectKey),
    responses((status = 204, description = "Removed")))]
pub async fn delete_deploy_hook(
    State(state): State<AppState>,
    InProject { caller, mut project }: InProject,
) -> ServiceResult<StatusCode> {
    projects::remove_deploy_hook(&state, &caller, &mut project).await?;
    Ok(StatusCode::NO_CONTENT)
}
