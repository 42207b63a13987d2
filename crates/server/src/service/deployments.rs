//! Deployments: recorded with a credential that may deploy to the
//! environment, checked against the branch tracking rules, and announced to
//! the project's deploy hook.

use gatepass_core::access::Area;
use gatepass_core::branch_rule::{ref_is_allowed, RefPattern};
use gatepass_core::id::DeploymentId;
use gatepass_core::scope::Scope;
use gatepass_store::{Deployment, DeploymentStatus, Environment, HookStatus, Project};
use serde_json::json;

use super::audit::{self, AuditAction};
use super::{Caller, ServiceError, ServiceResult};
use crate::metrics::bump;
use crate::state::AppState;

const MAX_REF_LEN: usize = 255;
const MAX_COMMIT_LEN: usize = 64;
const MAX_DESCRIPTION_LEN: usize = 1000;
/// The most deployments one listing returns.
pub const MAX_LIST: u32 = 500;

/// What a deployment request names, as sent.
#[derive(Debug, Clone, Copy)]
pub struct DeployRequest<'a> {
    pub git_ref: &'a str,
    pub commit: &'a str,
    pub description: &'a str,
}

impl DeployRequest<'_> {
    fn check(&self) -> ServiceResult<()> {
        let git_ref = self.git_ref.trim();
        if git_ref.is_empty()
            || git_ref.len() > MAX_REF_LEN
            || git_ref.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ServiceError::Invalid(format!(
                "\"ref\" must be a git ref of 1 to {MAX_REF_LEN} characters without spaces"
            )));
        }
        let commit = self.commit.trim();
        if commit.len() < 4 || commit.len() > MAX_COMMIT_LEN || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::Invalid(format!(
                "\"commit\" must be a hex commit SHA of 4 to {MAX_COMMIT_LEN} characters"
            )));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(ServiceError::Invalid(format!(
                "\"description\" may be at most {MAX_DESCRIPTION_LEN} characters"
            )));
        }
        Ok(())
    }
}

/// Records a deployment (needs `deploy` reaching the environment), checks the
/// branch tracking rules and hands it to the deploy hook.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    environment: &Environment,
    request: DeployRequest<'_>,
) -> ServiceResult<Deployment> {
    caller.principal.authorize(Scope::Deploy, project.org_id, Area::Environment(project.id, environment.id))?;
    request.check()?;
    let git_ref = request.git_ref.trim();
    let rules: Vec<RefPattern> = state
        .store
        .list_branch_rules(project.id)
        .await?
        .iter()
        .filter_map(|rule| RefPattern::parse(&rule.pattern).ok())
        .collect();
    if !ref_is_allowed(&rules, git_ref) {
        let rules = rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        return Err(ServiceError::RefNotAllowed { git_ref: git_ref.to_string(), rules });
    }
    let deployment = Deployment {
        id: DeploymentId::generate(),
        org_id: project.org_id,
        project_id: project.id,
        environment_id: environment.id,
        git_ref: git_ref.to_string(),
        commit_sha: request.commit.trim().to_ascii_lowercase(),
        description: request.description.trim().to_string(),
        status: DeploymentStatus::Queued,
        hook_status: if project.deploy_hook.is_some() { HookStatus::Pending } else { HookStatus::None },
        created_by: caller.actor(state).await,
        created_at: state.clock.now(),
    };
    state.store.create_deployment(&deployment).await?;
    bump(&state.metrics.deployments_created);
    if let Some(hook) = project.deploy_hook.clone() {
        state.hooks.dispatch(&deployment, hook, project, Some(environment.name.clone()));
    }
    let details = json!({
        "project": project.id, "environment": environment.name,
        "ref": deployment.git_ref, "commit": deployment.commit_sha,
    });
    let target = deployment.id.as_str();
    audit::record(state, caller, Some(project.org_id), AuditAction::DeploymentCreated, target, details).await;
    Ok(deployment)
}

/// A project's deployments the caller may see, newest first.
pub async fn list(state: &AppState, caller: &Caller, project: &Project, limit: u32) -> ServiceResult<Vec<Deployment>> {
    caller.principal.authorize_listing(Scope::Read, project.org_id)?;
    let mut deployments = state.store.list_deployments(project.id, limit.clamp(1, MAX_LIST)).await?;
    deployments.retain(|d| caller.principal.sees(project.org_id, Some(project.id), Some(d.environment_id)));
    Ok(deployments)
}

/// A deployment the caller may see.
pub async fn find(state: &AppState, caller: &Caller, id: &str) -> ServiceResult<Deployment> {
    let id = DeploymentId::parse(id).map_err(|_| ServiceError::NotFound("deployment"))?;
    let deployment = state.store.find_deployment(id).await?.ok_or(ServiceError::NotFound("deployment"))?;
    if !caller.principal.sees(deployment.org_id, Some(deployment.project_id), Some(deployment.environment_id)) {
        return Err(ServiceError::NotFound("deployment"));
    }
    Ok(deployment)
}

/// Requires `read` in the deployment's org, for showing it.
pub fn require_read(caller: &Caller, deployment: &Deployment) -> ServiceResult<()> {
    Ok(caller.principal.authorize_listing(Scope::Read, deployment.org_id)?)
}

/// Archives a deployment (needs `delete`).
pub async fn archive(state: &AppState, caller: &Caller, deployment: &mut Deployment) -> ServiceResult<()> {
    let area = Area::Environment(deployment.project_id, deployment.environment_id);
    caller.principal.authorize(Scope::Delete, deployment.org_id, area)?;
    state.store.set_deployment_status(deployment.id, DeploymentStatus::Archived).await?;
    deployment.status = DeploymentStatus::Archived;
    let target = deployment.id.as_str();
    audit::record(state, caller, Some(deployment.org_id), AuditAction::DeploymentArchived, target, json!({})).await;
    Ok(())
}

/// The name of a deployment's environment, for views.
pub async fn environment_name(state: &AppState, deployment: &Deployment) -> ServiceResult<Option<String>> {
    Ok(state.labels.environment_name(state.store.as_ref(), deployment.environment_id).await?)
}
