//! Creating projects, environments and branch tracking rules — with the
//! authorization, validation and audit each needs — shared by the API and the
//! dashboard.

use gatepass_core::access::Area;
use gatepass_core::branch_rule::RefPattern;
use gatepass_core::id::{BranchRuleId, EnvironmentId, ProjectId};
use gatepass_core::name::{DisplayName, EnvironmentName, Slug};
use gatepass_core::scope::Scope;
use gatepass_store::{BranchRule, Environment, Org, Project};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::error::{invalid, ApiError, ApiResult};
use crate::state::AppState;

/// Creates a project in `org`; the slug is derived from the name when empty.
pub async fn create_project(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    name: &str,
    slug: Option<&str>,
) -> ApiResult<Project> {
    caller.principal.authorize(Scope::Admin, org.id, Area::Org)?;
    let name = DisplayName::parse("name", name).map_err(invalid)?;
    let slug = match slug.map(str::trim).filter(|slug| !slug.is_empty()) {
        Some(slug) => Slug::parse("slug", slug).map_err(invalid)?,
        None => Slug::derive_from(name.as_str())
            .ok_or_else(|| ApiError::Invalid("cannot derive a slug from this name; give \"slug\"".into()))?,
    };
    let project = Project {
        id: ProjectId::generate(),
        org_id: org.id,
        name: name.into_string(),
        slug: slug.into_string(),
        deploy_hook: None,
        created_at: state.clock.now(),
    };
    state.store.create_project(&project).await?;
    let details = json!({ "slug": project.slug });
    audit::record(
        state,
        Some(org.id),
        &caller.actor(),
        caller.client_ip,
        "project.created",
        project.id.as_str(),
        details,
    )
    .await;
    Ok(project)
}

pub async fn create_environment(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    name: &str,
) -> ApiResult<Environment> {
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
    audit::record(
        state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "environment.created",
        target,
        details,
    )
    .await;
    Ok(environment)
}

pub async fn add_branch_rule(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    pattern: &str,
) -> ApiResult<BranchRule> {
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
    audit::record(
        state,
        Some(project.org_id),
        &caller.actor(),
        caller.client_ip,
        "branch_rule.created",
        rule.id.as_str(),
        details,
    )
    .await;
    Ok(rule)
}
