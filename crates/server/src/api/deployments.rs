//! `/v1/projects/{project}/deployments` and `/v1/deployments/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatepass_core::access::Area;
use gatepass_core::branch_rule::{ref_is_allowed, RefPattern};
use gatepass_core::id::DeploymentId;
use gatepass_core::scope::Scope;
use gatepass_store::{Deployment, DeploymentStatus, HookStatus};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery};
use super::views::DeploymentView;
use super::{require_scope_in_org, resolve};
use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::metrics::bump;
use crate::state::AppState;

const MAX_REF_LEN: usize = 255;
const MAX_COMMIT_LEN: usize = 64;
const MAX_DESCRIPTION_LEN: usize = 1000;

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDeploymentsQuery {
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<u32>,
}

fn check_fields(body: &CreateDeploymentRequest) -> ApiResult<()> {
    let git_ref = body.git_ref.trim();
    if git_ref.is_empty() || git_ref.len() > MAX_REF_LEN || git_ref.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::Invalid(format!(
            "\"ref\" must be a git ref of 1 to {MAX_REF_LEN} characters without spaces"
        )));
    }
    let commit = body.commit.trim();
    if commit.len() < 4 || commit.len() > MAX_COMMIT_LEN || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::Invalid(format!(
            "\"commit\" must be a hex commit SHA of 4 to {MAX_COMMIT_LEN} characters"
        )));
    }
    if body.description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::Invalid(format!("\"description\" may be at most {MAX_DESCRIPTION_LEN} characters")));
    }
    Ok(())
}

/// Record a deployment (needs `deploy` reaching the environment). Checks the
/// branch tracking rules and notifies the deploy hook.
#[utoipa::path(post, path = "/v1/projects/{project}/deployments", tag = "deployments",
    params(("project" = String, Path, description = "Project id or slug")), request_body = CreateDeploymentRequest,
    responses((status = 201, body = DeploymentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Ref outside the branch tracking rules", body = Problem)),
    security(("bearer" = [])))]
pub async fn create_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<CreateDeploymentRequest>,
) -> ApiResult<(StatusCode, axum::Json<DeploymentView>)> {
    let project = resolve::project(&state, &caller, &project).await?;
    let environment = resolve::environment(&state, &project, &body.environment).await?;
    caller.principal.authorize(Scope::Deploy, project.org_id, Area::Environment(project.id, environment.id))?;
    check_fields(&body)?;
    let git_ref = body.git_ref.trim();
    let rules: Vec<RefPattern> = state
        .store
        .list_branch_rules(project.id)
        .await?
        .iter()
        .filter_map(|rule| RefPattern::parse(&rule.pattern).ok())
        .collect();
    if !ref_is_allowed(&rules, git_ref) {
        let rules = rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        return Err(ApiError::RefNotAllowed { git_ref: git_ref.to_string(), rules });
    }
    let deployment = Deployment {
        id: DeploymentId::generate(),
        org_id: project.org_id,
        project_id: project.id,
        environment_id: environment.id,
        git_ref: git_ref.to_string(),
        commit_sha: body.commit.trim().to_ascii_lowercase(),
        description: body.description.trim().to_string(),
        status: DeploymentStatus::Queued,
        hook_status: if project.deploy_hook.is_some() { HookStatus::Pending } else { HookStatus::None },
        created_by: caller.actor(),
        created_at: state.clock.now(),
    };
    state.store.create_deployment(&deployment).await?;
    bump(&state.metrics.deployments_created);
    let view = DeploymentView::new(&deployment, Some(environment.name.clone()));
    if let Some(hook) = project.deploy_hook.clone() {
        state.hooks.dispatch(&deployment, hook, crate::hooks::deployment_created(&view, &project));
    }
    let details = json!({ "project": project.id, "environment": environment.name, "ref": deployment.git_ref, "commit": deployment.commit_sha });
    audit::record(
        &state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "deployment.created",
        deployment.id.as_str(),
        details,
    )
    .await;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// A project's deployments, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/deployments", tag = "deployments",
    params(("project" = String, Path), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Vec<DeploymentView>)), security(("bearer" = [])))]
pub async fn list_deployments(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiQuery(query): ApiQuery<ListDeploymentsQuery>,
) -> ApiResult<axum::Json<Vec<DeploymentView>>> {
    let project = resolve::project(&state, &caller, &project).await?;
    require_scope_in_org(&caller, project.org_id, Scope::Read)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let environments = state.store.list_environments(project.id).await?;
    let name_of = |id| environments.iter().find(|e| e.id == id).map(|e| e.name.clone());
    let deployments = state.store.list_deployments(project.id, limit).await?;
    Ok(axum::Json(
        deployments
            .iter()
            .filter(|d| caller.principal.sees(project.org_id, Some(project.id), Some(d.environment_id)))
            .map(|d| DeploymentView::new(d, name_of(d.environment_id)))
            .collect(),
    ))
}

async fn find_deployment(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Deployment> {
    let id = DeploymentId::parse(id).map_err(|_| ApiError::NotFound("deployment"))?;
    let deployment = state.store.find_deployment(id).await?.ok_or(ApiError::NotFound("deployment"))?;
    if !caller.principal.sees(deployment.org_id, Some(deployment.project_id), Some(deployment.environment_id)) {
        return Err(ApiError::NotFound("deployment"));
    }
    Ok(deployment)
}

/// One deployment (its hook delivery status included).
#[utoipa::path(get, path = "/v1/deployments/{id}", tag = "deployments", params(("id" = String, Path)),
    responses((status = 200, body = DeploymentView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeploymentView>> {
    let deployment = find_deployment(&state, &caller, &id).await?;
    require_scope_in_org(&caller, deployment.org_id, Scope::Read)?;
    let name = state.store.find_environment(deployment.environment_id).await?.map(|e| e.name);
    Ok(axum::Json(DeploymentView::new(&deployment, name)))
}

/// Archive a deployment (needs `delete`).
#[utoipa::path(post, path = "/v1/deployments/{id}/archive", tag = "deployments", params(("id" = String, Path)),
    responses((status = 200, body = DeploymentView)), security(("bearer" = [])))]
pub async fn archive_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeploymentView>> {
    let mut deployment = find_deployment(&state, &caller, &id).await?;
    let area = Area::Environment(deployment.project_id, deployment.environment_id);
    caller.principal.authorize(Scope::Delete, deployment.org_id, area)?;
    state.store.set_deployment_status(deployment.id, DeploymentStatus::Archived).await?;
    deployment.status = DeploymentStatus::Archived;
    audit::record(
        &state,
        Some(deployment.org_id),
        &caller.actor(),
        caller.client_ip,
        "deployment.archived",
        deployment.id.as_str(),
        json!({}),
    )
    .await;
    let name = state.store.find_environment(deployment.environment_id).await?.map(|e| e.name);
    Ok(axum::Json(DeploymentView::new(&deployment, name)))
}
