//! Deployments: recorded with a credential that may deploy to the
//! environment, checked against the branch tracking rules, announced to the
//! project's deploy hook, and then moved through their states by the
//! runner's reports (`gatepass_core::deployment` decides which moves are
//! allowed), by archiving, and by the deploy timeout.

use std::collections::HashMap;

use gatepass_core::access::Area;
use gatepass_core::branch_rule::{ref_is_allowed, RefPattern};
use gatepass_core::deployment::{transition, DeploymentState, TIMED_OUT};
use gatepass_core::id::{DeploymentId, EnvironmentId};
use gatepass_core::scope::Scope;
use gatepass_store::{Actor, Deployment, Environment, HookStatus, PageKey, PageRequest, Project, StatusReport};
use serde_json::json;

use super::audit::{self, AuditAction};
use super::pages::{self, Page};
use super::{invalid, urls, Caller, ServiceError, ServiceResult};
use crate::metrics::bump;
use crate::state::AppState;

const MAX_REF_LEN: usize = 255;
const MAX_COMMIT_LEN: usize = 64;
const MAX_DESCRIPTION_LEN: usize = 1000;
/// The most deployments one listing returns.
pub const MAX_LIST: u32 = 500;
/// Overdue deployments failed per store round trip of the timeout sweep.
const SWEEP_BATCH: u32 = 100;
/// How often a state change may lose a race to a concurrent one before the
/// caller is asked to try again.
const MAX_RACES: usize = 5;

/// What a deployment request names, as sent.
#[derive(Debug, Clone, Copy)]
pub struct DeployRequest<'a> {
    pub git_ref: &'a str,
    pub commit: &'a str,
    pub description: &'a str,
}

fn check_description(description: &str) -> ServiceResult<String> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ServiceError::Invalid(format!("\"description\" may be at most {MAX_DESCRIPTION_LEN} characters")));
    }
    Ok(description.trim().to_string())
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
        check_description(self.description)?;
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
        state: DeploymentState::Queued,
        hook_status: if project.deploy_hook.is_some() { HookStatus::Pending } else { HookStatus::None },
        log_url: None,
        environment_url: None,
        created_by: caller.actor(state).await,
        created_at: state.clock.now(),
        started_at: None,
        finished_at: None,
    };
    // The deploy hook's delivery is written with the deployment, so a crash
    // between the two cannot lose it.
    let hook = project
        .deploy_hook
        .is_some()
        .then(|| state.hooks.delivery(&deployment, project, Some(environment.name.clone())));
    state.store.create_deployment(&deployment, hook.as_ref()).await?;
    bump(&state.metrics.deployments_created);
    if hook.is_some() {
        state.webhooks.wake();
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

/// One page of a project's deployments the caller may see, newest first.
pub async fn list_page(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    page: &PageRequest,
) -> ServiceResult<Page<Deployment>> {
    caller.principal.authorize_listing(Scope::Read, project.org_id)?;
    let rows = state.store.list_deployments_page(project.id, &pages::one_more(page)).await?;
    let page = Page::from_rows(rows, page.limit, |d| PageKey { at: d.created_at, id: d.id.to_string() });
    Ok(page.retain(|d| caller.principal.sees(project.org_id, Some(project.id), Some(d.environment_id))))
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

fn area(deployment: &Deployment) -> Area {
    Area::Environment(deployment.project_id, deployment.environment_id)
}

/// Requires what showing a deployment and its history needs: `read`, or
/// `deploy` reaching it (a CI job following what it started).
pub fn require_read(caller: &Caller, deployment: &Deployment) -> ServiceResult<()> {
    Ok(caller.principal.may_read_deployment(deployment.org_id, area(deployment))?)
}

/// A deployment's status history, oldest first.
pub async fn history(state: &AppState, caller: &Caller, deployment: &Deployment) -> ServiceResult<Vec<StatusReport>> {
    require_read(caller, deployment)?;
    Ok(state.store.list_statuses(deployment.id).await?)
}

/// A state a runner reports, as sent.
#[derive(Debug, Clone, Copy)]
pub struct StatusRequest<'a> {
    pub state: &'a str,
    pub description: &'a str,
    pub log_url: Option<&'a str>,
    pub environment_url: Option<&'a str>,
}

/// Records a state a runner reports (needs `deploy` reaching the
/// deployment). A move the state machine refuses is a conflict naming both
/// states; concurrent reports never both pass the check, because the store
/// moves the deployment only from the state the check saw.
pub async fn report(
    state: &AppState,
    caller: &Caller,
    deployment: &mut Deployment,
    request: StatusRequest<'_>,
) -> ServiceResult<StatusReport> {
    caller.principal.authorize(Scope::Deploy, deployment.org_id, area(deployment))?;
    let to = DeploymentState::parse(request.state).map_err(invalid)?;
    if !to.is_reportable() {
        return Err(ServiceError::Invalid(format!(
            "\"{to}\" is not reported: archive with POST /v1/deployments/{}/archive, which needs the delete scope",
            deployment.id
        )));
    }
    let optional_url = |field, url: Option<&str>| url.map(|url| urls::http_url(field, url)).transpose();
    let report = StatusReport {
        deployment_id: deployment.id,
        state: to,
        description: check_description(request.description)?,
        log_url: optional_url("log_url", request.log_url)?,
        environment_url: optional_url("environment_url", request.environment_url)?,
        reported_by: caller.actor(state).await,
        at: state.clock.now(),
    };
    let from = move_to(state, deployment, &report).await?;
    announce(state, Some(caller), deployment, from, &report, AuditAction::DeploymentStatus).await;
    Ok(report)
}

/// Archives a deployment (needs `delete`), whatever its state; archiving
/// an archived deployment changes nothing.
pub async fn archive(state: &AppState, caller: &Caller, deployment: &mut Deployment) -> ServiceResult<()> {
    caller.principal.authorize(Scope::Delete, deployment.org_id, area(deployment))?;
    if deployment.state == DeploymentState::Archived {
        return Ok(());
    }
    let report = StatusReport {
        deployment_id: deployment.id,
        state: DeploymentState::Archived,
        description: String::new(),
        log_url: None,
        environment_url: None,
        reported_by: caller.actor(state).await,
        at: state.clock.now(),
    };
    let from = match move_to(state, deployment, &report).await {
        // Archived concurrently: the caller's wish holds.
        Err(ServiceError::IllegalTransition(_)) if deployment.state == DeploymentState::Archived => return Ok(()),
        other => other?,
    };
    announce(state, Some(caller), deployment, from, &report, AuditAction::DeploymentArchived).await;
    Ok(())
}

/// Fails, as "timed out", every deployment that has been `in_progress` for
/// its project's deploy timeout. Safe to run on every node at once: each
/// deployment moves only from `in_progress`, so only one sweep fails it,
/// and a runner's report that lands first wins. Returns how many it failed.
pub async fn time_out_overdue(state: &AppState) -> ServiceResult<usize> {
    let now = state.clock.now();
    let mut failed = 0;
    loop {
        let overdue = state.store.overdue_deployments(now, SWEEP_BATCH).await?;
        for deployment in &overdue {
            let report = StatusReport {
                deployment_id: deployment.id,
                state: DeploymentState::Failed,
                description: TIMED_OUT.into(),
                log_url: None,
                environment_url: None,
                reported_by: Actor::system(),
                at: now,
            };
            if let Some(deployment) = state.store.record_status(DeploymentState::InProgress, &report).await? {
                tracing::info!(deployment = %deployment.id, "failed a deployment that stayed in progress past its deploy timeout");
                announce(state, None, &deployment, DeploymentState::InProgress, &report, AuditAction::DeploymentStatus)
                    .await;
                failed += 1;
            }
        }
        if overdue.len() < SWEEP_BATCH as usize {
            return Ok(failed);
        }
    }
}

/// Moves `deployment` to the state of `report` if the state machine allows
/// it from the state the deployment is in, retrying on the state a
/// concurrent change left. Returns the state it moved from.
async fn move_to(
    state: &AppState,
    deployment: &mut Deployment,
    report: &StatusReport,
) -> ServiceResult<DeploymentState> {
    for _ in 0..MAX_RACES {
        let from = deployment.state;
        transition(from, report.state).map_err(ServiceError::IllegalTransition)?;
        if let Some(moved) = state.store.record_status(from, report).await? {
            *deployment = moved;
            return Ok(from);
        }
        // Another report moved it first: decide again on what it is now.
        *deployment = state.store.find_deployment(deployment.id).await?.ok_or(ServiceError::NotFound("deployment"))?;
    }
    Err(ServiceError::Conflict("the deployment kept changing while this report was recorded; send it again".into()))
}

/// Everything that follows a state change, in one place: the audit event
/// (by the caller, or by gatepass itself for a timeout) and, once org
/// webhooks exist, the `deployment.status` webhook event.
async fn announce(
    state: &AppState,
    caller: Option<&Caller>,
    deployment: &Deployment,
    from: DeploymentState,
    report: &StatusReport,
    action: AuditAction,
) {
    let details = json!({
        "project": deployment.project_id, "environment": deployment.environment_id,
        "from": from.as_str(), "to": report.state.as_str(), "description": report.description,
        "log_url": report.log_url, "environment_url": report.environment_url,
    });
    let (org, target) = (Some(deployment.org_id), deployment.id.as_str());
    match caller {
        Some(caller) => audit::record(state, caller, org, action, target, details).await,
        None => audit::record_system(state, org, action, target, details).await,
    }
    // Org webhooks: emit the `deployment.status` event of `deployment` and
    // `report` here, the one place every state change passes through.
}

/// The current (last succeeded) deployment of each environment of `project`.
pub async fn current_deployments(
    state: &AppState,
    project: &Project,
) -> ServiceResult<HashMap<EnvironmentId, Deployment>> {
    let current = state.store.current_deployments(project.id).await?;
    Ok(current.into_iter().map(|deployment| (deployment.environment_id, deployment)).collect())
}

/// The name of a deployment's environment, for views.
pub async fn environment_name(state: &AppState, deployment: &Deployment) -> ServiceResult<Option<String>> {
    Ok(state.labels.environment_name(state.store.as_ref(), deployment.environment_id).await?)
}
