//! `/v1/orgs/{org}/projects` and `/v1/projects/{project}`: projects and their
//! deploy hook.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatepass_core::access::Area;
use gatepass_core::name::DisplayName;
use gatepass_core::scope::Scope;
use gatepass_store::DeployHook;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::views::ProjectView;
use super::{require_scope_in_org, resolve};
use crate::audit;
use crate::auth::Caller;
use crate::error::{invalid, ApiError, ApiResult, Problem};
use crate::hooks;
use crate::project_setup;
use crate::state::AppState;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct DeployHookView {
    pub url: String,
    /// The signing secret, shown only when the hook is set.
    pub secret: String,
}

/// Create a project.
#[utoipa::path(post, path = "/v1/orgs/{org}/projects", tag = "projects", params(("org" = String, Path)),
    request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectView), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ApiResult<(StatusCode, axum::Json<ProjectView>)> {
    let org = resolve::org(&state, &caller, &org).await?;
    let project = project_setup::create_project(&state, &caller, &org, &body.name, body.slug.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json((&project).into())))
}

/// The projects of an organization that the caller can see.
#[utoipa::path(get, path = "/v1/orgs/{org}/projects", tag = "projects", params(("org" = String, Path)),
    responses((status = 200, body = Vec<ProjectView>)), security(("bearer" = [])))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<Vec<ProjectView>>> {
    let org = resolve::org(&state, &caller, &org).await?;
    if !caller.principal.is_instance_admin() {
        require_scope_in_org(&caller, org.id, Scope::Read)?;
    }
    let projects = state.store.list_projects(org.id).await?;
    let visible = projects
        .iter()
        .filter(|p| caller.principal.is_instance_admin() || caller.principal.sees(org.id, Some(p.id), None))
        .map(ProjectView::from)
        .collect();
    Ok(axum::Json(visible))
}

/// One project.
#[utoipa::path(get, path = "/v1/projects/{project}", tag = "projects", params(("project" = String, Path)),
    responses((status = 200, body = ProjectView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<axum::Json<ProjectView>> {
    let project = resolve::project(&state, &caller, &project).await?;
    let org = state.store.find_org(project.org_id).await?.ok_or(ApiError::NotFound("organization"))?;
    require_scope_in_org(&caller, org.id, Scope::Read)?;
    Ok(axum::Json((&project).into()))
}

/// Rename a project.
#[utoipa::path(patch, path = "/v1/projects/{project}", tag = "projects", params(("project" = String, Path)),
    request_body = UpdateProjectRequest, responses((status = 200, body = ProjectView)), security(("bearer" = [])))]
pub async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> ApiResult<axum::Json<ProjectView>> {
    let mut project = resolve::project(&state, &caller, &project).await?;
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    if let Some(name) = &body.name {
        project.name = DisplayName::parse("name", name).map_err(invalid)?.into_string();
    }
    state.store.update_project(&project).await?;
    Ok(axum::Json((&project).into()))
}

/// Delete a project (needs `delete`): its environments, rules and
/// deployments go, and every token reaching it is revoked.
#[utoipa::path(delete, path = "/v1/projects/{project}", tag = "projects", params(("project" = String, Path)),
    responses((status = 204, description = "Deleted")), security(("bearer" = [])))]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<StatusCode> {
    let project = resolve::project(&state, &caller, &project).await?;
    caller.principal.authorize(Scope::Delete, project.org_id, Area::Project(project.id))?;
    state.store.delete_project(project.id, state.clock.now()).await?;
    state.verifier.cache().forget(gatepass_store::TokenChange::All);
    let details = json!({ "slug": project.slug });
    audit::record(
        &state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "project.deleted",
        project.id.as_str(),
        details,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Set the deploy hook; answers the signing secret once.
#[utoipa::path(put, path = "/v1/projects/{project}/deploy-hook", tag = "projects", params(("project" = String, Path)),
    request_body = SetDeployHookRequest, responses((status = 200, body = DeployHookView)), security(("bearer" = [])))]
pub async fn set_deploy_hook(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<SetDeployHookRequest>,
) -> ApiResult<([(&'static str, &'static str); 1], axum::Json<DeployHookView>)> {
    let mut project = resolve::project(&state, &caller, &project).await?;
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let url = body.url.trim();
    let valid = url.len() <= 2000
        && reqwest::Url::parse(url)
            .is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some());
    if !valid {
        return Err(ApiError::Invalid(format!("{:?} is not an http(s) URL", url.chars().take(80).collect::<String>())));
    }
    let hook = DeployHook { url: url.to_string(), secret: hooks::new_secret() };
    project.deploy_hook = Some(hook.clone());
    state.store.update_project(&project).await?;
    let details = json!({ "url": hook.url });
    audit::record(
        &state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "deploy_hook.set",
        project.id.as_str(),
        details,
    )
    .await;
    Ok(([("cache-control", "no-store")], axum::Json(DeployHookView { url: hook.url, secret: hook.secret })))
}

/// Remove the deploy hook.
#[utoipa::path(delete, path = "/v1/projects/{project}/deploy-hook", tag = "projects", params(("project" = String, Path)),
    responses((status = 204, description = "Removed")), security(("bearer" = [])))]
pub async fn delete_deploy_hook(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<StatusCode> {
    let mut project = resolve::project(&state, &caller, &project).await?;
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    project.deploy_hook = None;
    state.store.update_project(&project).await?;
    audit::record(
        &state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "deploy_hook.removed",
        project.id.as_str(),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
