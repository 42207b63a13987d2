//! Projects and what belongs to them: environments, branch tracking rules
//! and the deploy hook — created, changed and deleted with the
//! authorization, validation and audit each needs.

use gatepass_core::access::Area;
use gatepass_core::branch_rule::RefPattern;
use gatepass_core::deployment::{parse_deploy_timeout, DEFAULT_DEPLOY_TIMEOUT};
use gatepass_core::expiry::format_duration;
use gatepass_core::id::{BranchRuleId, EnvironmentId, ProjectId};
use gatepass_core::name::{DisplayName, EnvironmentName, Slug};
use gatepass_core::scope::Scope;
use gatepass_core::token::TokenStatus;
use gatepass_store::{BranchRule, DeployHook, Environment, Org, Project, TokenFilter};
use serde_json::json;

use super::audit::{self, AuditAction};
use super::{invalid, resolve, tokens, urls, Caller, ServiceError, ServiceResult};
use crate::state::AppState;

/// Creates a project in `org`; the slug is derived from the name when empty.
pub async fn create_project(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    name: &str,
    slug: Option<&str>,
) -> ServiceResult<Project> {
    caller.principal.authorize(Scope::Admin, org.id, Area::Org)?;
    let name = DisplayName::parse("name", name).map_err(invalid)?;
    let slug = match slug.map(str::trim).filter(|slug| !slug.is_empty()) {
        Some(slug) => Slug::parse("slug", slug).map_err(invalid)?,
        None => Slug::derive_from(name.as_str())
            .ok_or_else(|| ServiceError::Invalid("cannot derive a slug from this name; give \"slug\"".into()))?,
    };
    let project = Project {
        id: ProjectId::generate(),
        org_id: org.id,
        name: name.into_string(),
        slug: slug.into_string(),
        deploy_hook: None,
        deploy_timeout: DEFAULT_DEPLOY_TIMEOUT,
        created_at: state.clock.now(),
    };
    state.store.create_project(&project).await?;
    let details = json!({ "slug": project.slug });
    audit::record(state, caller, Some(org.id), AuditAction::ProjectCreated, project.id.as_str(), details).await;
    Ok(project)
}

/// The projects of `org` the caller may see.
pub async fn list(state: &AppState, caller: &Caller, org: &Org) -> ServiceResult<Vec<Project>> {
    if !caller.principal.is_instance_admin() {
        caller.principal.authorize_listing(Scope::Read, org.id)?;
    }
    let mut projects = state.store.list_projects(org.id).await?;
    projects.retain(|project| caller.principal.sees_project(org.id, project.id));
    Ok(projects)
}

/// Requires `read` somewhere in the project's org, for reading the project
/// itself (instance admins read every org).
pub fn require_read(caller: &Caller, project: &Project) -> ServiceResult<()> {
    Ok(caller.principal.authorize_reading(Scope::Read, project.org_id)?)
}

/// What a project update changes; absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProjectUpdate<'a> {
    pub name: Option<&'a str>,
    /// How long a deployment may stay `in_progress` before it is failed as
    /// timed out: a duration such as `90m` or `2h`.
    pub deploy_timeout: Option<&'a str>,
}

/// Renames a project and/or changes its deploy timeout (needs `admin`):
/// every field is checked before anything is saved.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    project: &mut Project,
    update: ProjectUpdate<'_>,
) -> ServiceResult<()> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let name = update.name.map(|name| DisplayName::parse("name", name).map_err(invalid)).transpose()?;
    let timeout = update.deploy_timeout.map(|timeout| parse_deploy_timeout(timeout).map_err(invalid)).transpose()?;
    let mut changes = Vec::new();
    if let Some(name) = name.map(DisplayName::into_string).filter(|name| *name != project.name) {
        let details = json!({ "from": project.name, "to": name });
        project.name = name;
        changes.push((AuditAction::ProjectRenamed, details));
    }
    if let Some(timeout) = timeout.filter(|timeout| *timeout != project.deploy_timeout) {
        let details = json!({ "from": format_duration(project.deploy_timeout), "to": format_duration(timeout) });
        project.deploy_timeout = timeout;
        changes.push((AuditAction::DeployTimeoutChanged, details));
    }
    if changes.is_empty() {
        return Ok(());
    }
    state.store.update_project(project).await?;
    for (action, details) in changes {
        audit::record(state, caller, Some(project.org_id), action, project.id.as_str(), details).await;
    }
    Ok(())
}

/// Requires the right to delete `project`: `delete` reaching it.
pub fn require_delete(caller: &Caller, project: &Project) -> ServiceResult<()> {
    Ok(caller.principal.authorize(Scope::Delete, project.org_id, Area::Project(project.id))?)
}

/// Deletes a project (needs `delete`): its environments, rules and
/// deployments go, and every token reaching it is revoked.
pub async fn delete(state: &AppState, caller: &Caller, project: &Project) -> ServiceResult<()> {
    require_delete(caller, project)?;
    state.store.delete_project(project.id, state.clock.now()).await?;
    state.verifier.forget_all();
    let details = json!({ "slug": project.slug });
    audit::record(state, caller, Some(project.org_id), AuditAction::ProjectDeleted, project.id.as_str(), details).await;
    Ok(())
}

/// Sets the deploy hook with a fresh signing secret, answered once.
pub async fn set_deploy_hook(
    state: &AppState,
    caller: &Caller,
    project: &mut Project,
    url: &str,
) -> ServiceResult<DeployHook> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let url = urls::http_url("url", url)?;
    let hook = DeployHook { url, secret: crate::outbox::deploy_hook::new_secret() };
    project.deploy_hook = Some(hook.clone());
    state.store.update_project(project).await?;
    let details = json!({ "url": hook.url });
    audit::record(state, caller, Some(project.org_id), AuditAction::DeployHookSet, project.id.as_str(), details).await;
    Ok(hook)
}

pub async fn remove_deploy_hook(state: &AppState, caller: &Caller, project: &mut Project) -> ServiceResult<()> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    project.deploy_hook = None;
    state.store.update_project(project).await?;
    audit::record(state, caller, Some(project.org_id), AuditAction::DeployHookRemoved, project.id.as_str(), json!({}))
        .await;
    Ok(())
}

pub async fn create_environment(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    name: &str,
) -> ServiceResult<Environment> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let name = EnvironmentName::parse(name).map_err(invalid)?;
    let environment = Environment {
        id: EnvironmentId::generate(),
        project_id: project.id,
        name: name.into_string(),
        created_at: state.clock.now(),
    };
    state.store.create_environment(&environment).await?;
    let details = json!({ "project": project.id, "name": environment.name });
    let target = environment.id.as_str();
    audit::record(state, caller, Some(project.org_id), AuditAction::EnvironmentCreated, target, details).await;
    Ok(environment)
}

/// The environments of `project` the caller may see.
pub async fn list_environments(
    state: &AppState,
    caller: &Caller,
    project: &Project,
) -> ServiceResult<Vec<Environment>> {
    require_read(caller, project)?;
    let mut environments = state.store.list_environments(project.id).await?;
    environments.retain(|env| caller.principal.sees_listed(project.org_id, Some(project.id), Some(env.id)));
    Ok(environments)
}

/// How many active tokens deleting `project` (or, given, only its
/// `environment`) would revoke: the ones that reach nothing else. Org
/// tokens, and project tokens when an environment goes, stay.
pub async fn tokens_revoked_by_deleting(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    environment: Option<&Environment>,
) -> ServiceResult<usize> {
    require_read(caller, project)?;
    let filter = TokenFilter { project: Some(project.id), ..Default::default() };
    let now = state.clock.now();
    let tokens = state.store.list_tokens(project.org_id, filter).await?;
    let revoked = tokens.iter().filter(|token| tokens::status(token, now) == TokenStatus::Active);
    Ok(match environment {
        Some(environment) => revoked.filter(|token| token.reach.environment() == Some(environment.id)).count(),
        None => revoked.count(),
    })
}

/// One environment of `project` (by id or name) the caller may see.
pub async fn find_environment(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    key: &str,
) -> ServiceResult<Environment> {
    require_read(caller, project)?;
    let environment = resolve::environment(state, project, key).await?;
    if !caller.principal.sees(project.org_id, Some(project.id), Some(environment.id)) {
        return Err(ServiceError::NotFound("environment"));
    }
    Ok(environment)
}

/// Deletes an environment; tokens reaching only it are revoked.
pub async fn delete_environment(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    environment: &Environment,
) -> ServiceResult<()> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    state.store.delete_environment(environment.id, state.clock.now()).await?;
    state.verifier.forget_all();
    let details = json!({ "project": project.id, "name": environment.name });
    let target = environment.id.as_str();
    audit::record(state, caller, Some(project.org_id), AuditAction::EnvironmentDeleted, target, details).await;
    Ok(())
}

pub async fn add_branch_rule(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    pattern: &str,
) -> ServiceResult<BranchRule> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let pattern = RefPattern::parse(pattern).map_err(invalid)?;
    let rule = BranchRule {
        id: BranchRuleId::generate(),
        project_id: project.id,
        pattern: pattern.as_str().to_string(),
        created_at: state.clock.now(),
    };
    state.store.add_branch_rule(&rule).await?;
    let details = json!({ "project": project.id, "pattern": rule.pattern });
    audit::record(state, caller, Some(project.org_id), AuditAction::BranchRuleCreated, rule.id.as_str(), details).await;
    Ok(rule)
}

pub async fn list_branch_rules(state: &AppState, caller: &Caller, project: &Project) -> ServiceResult<Vec<BranchRule>> {
    require_read(caller, project)?;
    Ok(state.store.list_branch_rules(project.id).await?)
}

pub async fn delete_branch_rule(state: &AppState, caller: &Caller, project: &Project, rule: &str) -> ServiceResult<()> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let rule = BranchRuleId::parse(rule).map_err(|_| ServiceError::NotFound("branch rule"))?;
    if !state.store.delete_branch_rule(project.id, rule).await? {
        return Err(ServiceError::NotFound("branch rule"));
    }
    audit::record(state, caller, Some(project.org_id), AuditAction::BranchRuleDeleted, rule.as_str(), json!({})).await;
    Ok(())
}
