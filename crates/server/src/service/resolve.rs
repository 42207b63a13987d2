//! Turning path keys (ids or slugs) into objects the caller may see. Anything
//! the caller cannot see is "not found", exactly like what does not exist.

use gatepass_core::id::{EnvironmentId, OrgId, ProjectId};
use gatepass_store::{Environment, Org, Project};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn org(state: &AppState, caller: &Caller, key: &str) -> ApiResult<Org> {
    let org = if OrgId::looks_like(key) {
        let id = OrgId::parse(key).map_err(|_| ApiError::NotFound("organization"))?;
        state.store.find_org(id).await?
    } else {
        state.store.find_org_by_slug(key).await?
    };
    let org = org.ok_or(ApiError::NotFound("organization"))?;
    if caller.principal.can_enter(org.id).is_err() && !caller.principal.is_instance_admin() {
        return Err(ApiError::NotFound("organization"));
    }
    Ok(org)
}

pub async fn project(state: &AppState, caller: &Caller, key: &str) -> ApiResult<Project> {
    let visible = |project: &Project| caller.principal.sees(project.org_id, Some(project.id), None);
    if ProjectId::looks_like(key) {
        let id = ProjectId::parse(key).map_err(|_| ApiError::NotFound("project"))?;
        let project = state.store.find_project(id).await?.filter(visible);
        return project.ok_or(ApiError::NotFound("project"));
    }
    let mut matches: Vec<Project> = state.store.find_projects_by_slug(key).await?.into_iter().filter(visible).collect();
    match matches.len() {
        0 => Err(ApiError::NotFound("project")),
        1 => Ok(matches.remove(0)),
        _ => Err(ApiError::Conflict(format!(
            "several of your organizations have a project {key:?}; use the project id (prj_…) instead"
        ))),
    }
}

/// An environment of `project`, by id or by name.
pub async fn environment(state: &AppState, project: &Project, key: &str) -> ApiResult<Environment> {
    let environment = if EnvironmentId::looks_like(key) {
        let id = EnvironmentId::parse(key).map_err(|_| ApiError::NotFound("environment"))?;
        state.store.find_environment(id).await?.filter(|env| env.project_id == project.id)
    } else {
        state.store.find_environment_by_name(project.id, key.trim()).await?
    };
    environment.ok_or(ApiError::NotFound("environment"))
}
