//! Reach resolution: turning what a request names (ids or slugs, an
//! environment's id or name, a token level) into objects the caller may see
//! and the [`Reach`] of a token. Anything the caller cannot see is "not
//! found", exactly like what does not exist.

use gatepass_core::id::{EnvironmentId, OrgId, ProjectId};
use gatepass_core::reach::{Reach, TokenLevel};
use gatepass_store::{Environment, Org, Project};

use super::{Caller, ServiceError, ServiceResult};
use crate::state::AppState;

pub async fn org(state: &AppState, caller: &Caller, key: &str) -> ServiceResult<Org> {
    let org = if OrgId::looks_like(key) {
        let id = OrgId::parse(key).map_err(|_| ServiceError::NotFound("organization"))?;
        state.store.find_org(id).await?
    } else {
        state.store.find_org_by_slug(key).await?
    };
    let org = org.ok_or(ServiceError::NotFound("organization"))?;
    caller.principal.may_view_org(org.id).map_err(|_| ServiceError::NotFound("organization"))?;
    Ok(org)
}

pub async fn project(state: &AppState, caller: &Caller, key: &str) -> ServiceResult<Project> {
    let visible = |project: &Project| caller.principal.sees(project.org_id, Some(project.id), None);
    if ProjectId::looks_like(key) {
        let id = ProjectId::parse(key).map_err(|_| ServiceError::NotFound("project"))?;
        let project = state.store.find_project(id).await?.filter(visible);
        return project.ok_or(ServiceError::NotFound("project"));
    }
    let mut matches: Vec<Project> = state.store.find_projects_by_slug(key).await?.into_iter().filter(visible).collect();
    match matches.len() {
        0 => Err(ServiceError::NotFound("project")),
        1 => Ok(matches.remove(0)),
        _ => Err(ServiceError::Conflict(format!(
            "several of your organizations have a project {key:?}; use the project id (prj_…) instead"
        ))),
    }
}

/// A project of `org` the caller may see.
pub async fn project_in(state: &AppState, caller: &Caller, org: &Org, key: &str) -> ServiceResult<Project> {
    let project = project(state, caller, key).await?;
    if project.org_id != org.id {
        return Err(ServiceError::NotFound("project"));
    }
    Ok(project)
}

/// An environment of `project`, by id or by name.
pub async fn environment(state: &AppState, project: &Project, key: &str) -> ServiceResult<Environment> {
    let environment = if EnvironmentId::looks_like(key) {
        let id = EnvironmentId::parse(key).map_err(|_| ServiceError::NotFound("environment"))?;
        state.store.find_environment(id).await?.filter(|env| env.project_id == project.id)
    } else {
        state.store.find_environment_by_name(project.id, key.trim()).await?
    };
    environment.ok_or(ServiceError::NotFound("environment"))
}

/// What a new token should reach, as a request names it: a level (or none,
/// to infer it), a project key and an environment key.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReachRequest<'a> {
    pub level: Option<&'a str>,
    pub project: Option<&'a str>,
    pub environment: Option<&'a str>,
}

/// Works out what a token request reaches, within `org`.
pub async fn reach(state: &AppState, caller: &Caller, org: &Org, request: ReachRequest<'_>) -> ServiceResult<Reach> {
    let level = match request.level {
        Some(text) => TokenLevel::parse(text).ok_or_else(|| {
            ServiceError::Invalid(format!("unknown level {text:?} (use org, project or environment)"))
        })?,
        None if request.environment.is_some() => TokenLevel::Environment,
        None if request.project.is_some() => TokenLevel::Project,
        None => TokenLevel::Org,
    };
    let project = match (request.project, level) {
        (Some(_), TokenLevel::Org) => {
            return Err(ServiceError::Invalid("an org token reaches every project; leave out \"project\"".into()))
        }
        (None, TokenLevel::Project | TokenLevel::Environment) => {
            return Err(ServiceError::Invalid(format!("a {level} token needs \"project\"")))
        }
        (Some(key), _) => Some(project_in(state, caller, org, key).await?),
        (None, TokenLevel::Org) => None,
    };
    match (level, project, request.environment) {
        (TokenLevel::Org, _, None) => Ok(Reach::Org),
        (TokenLevel::Project, Some(project), None) => Ok(Reach::Project(project.id)),
        (TokenLevel::Environment, Some(project), Some(key)) => {
            let environment = environment(state, &project, key).await?;
            Ok(Reach::Environment(project.id, environment.id))
        }
        (TokenLevel::Environment, _, None) => {
            Err(ServiceError::Invalid("an environment token needs \"environment\"".into()))
        }
        _ => Err(ServiceError::Invalid(format!("a {level} token takes no \"environment\"; use level \"environment\""))),
    }
}
