//! Organizations: creating them, their names and plans, and plan usage.

use gatepass_core::access::{Area, Principal};
use gatepass_core::id::OrgId;
use gatepass_core::name::{DisplayName, Email, Slug};
use gatepass_core::plan::Plan;
use gatepass_core::role::Role;
use gatepass_core::scope::Scope;
use gatepass_store::{Org, User};
use serde_json::json;

use super::audit::{self, AuditAction};
use super::{invalid, Caller, ServiceError, ServiceResult};
use crate::state::AppState;

/// How many active tokens an org has, and how many its plan allows.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub active_tokens: u64,
    /// `None` when the plan is unlimited.
    pub token_limit: Option<u32>,
}

impl Usage {
    /// "3 of 5 tokens used on the free plan", for people.
    pub fn sentence(&self, plan: Plan) -> String {
        let plan = plan.as_str();
        match self.token_limit {
            Some(limit) => format!("{} of {limit} tokens used on the {plan} plan", self.active_tokens),
            None => {
                let noun = if self.active_tokens == 1 { "token" } else { "tokens" };
                format!("{} active {noun} (the {plan} plan has no limit)", self.active_tokens)
            }
        }
    }
}

pub async fn usage(state: &AppState, org: &Org) -> ServiceResult<Usage> {
    Ok(Usage {
        active_tokens: state.store.count_active_tokens(org.id, state.clock.now()).await?,
        token_limit: org.plan.active_token_limit(),
    })
}

pub fn parse_plan(text: &str) -> ServiceResult<Plan> {
    Plan::parse(text).ok_or_else(|| ServiceError::Invalid(format!("unknown plan {text:?} (use free, pro or team)")))
}

/// Creates an organization (instance admins); `caller` becomes its owner.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    name: &str,
    slug: Option<&str>,
    plan: Option<&str>,
) -> ServiceResult<Org> {
    caller.principal.require_instance_admin()?;
    let owner =
        caller.user.as_ref().ok_or(ServiceError::Forbidden("only instance admins create organizations".into()))?;
    insert(state, caller, owner, name, slug, plan).await
}

/// Creates an organization (instance admins) owned by the existing user
/// whose email is `owner`, who need not be the caller.
pub async fn create_for(
    state: &AppState,
    caller: &Caller,
    owner: &str,
    name: &str,
    slug: Option<&str>,
    plan: Option<&str>,
) -> ServiceResult<Org> {
    caller.principal.require_instance_admin()?;
    let email = Email::parse(owner).map_err(invalid)?;
    let owner = state.store.find_user_by_email(email.as_str()).await?.ok_or_else(|| {
        ServiceError::Invalid(format!(
            "no user has the email {email}; create the user first (gatepass admin create, or POST /v1/users)"
        ))
    })?;
    insert(state, caller, &owner, name, slug, plan).await
}

async fn insert(
    state: &AppState,
    caller: &Caller,
    owner: &User,
    name: &str,
    slug: Option<&str>,
    plan: Option<&str>,
) -> ServiceResult<Org> {
    let name = DisplayName::parse("name", name).map_err(invalid)?;
    let slug = match slug.map(str::trim).filter(|slug| !slug.is_empty()) {
        Some(slug) => Slug::parse("slug", slug).map_err(invalid)?,
        None => Slug::derive_from(name.as_str())
            .ok_or_else(|| ServiceError::Invalid("cannot derive a slug from this name; give \"slug\"".into()))?,
    };
    let plan = plan.map(parse_plan).transpose()?.unwrap_or(Plan::Free);
    let org = Org {
        id: OrgId::generate(),
        name: name.into_string(),
        slug: slug.into_string(),
        plan,
        created_at: state.clock.now(),
    };
    state.store.create_org(&org, owner.id).await?;
    let details = json!({ "slug": org.slug, "plan": plan.as_str(), "owner": owner.email });
    audit::record(state, caller, Some(org.id), AuditAction::OrgCreated, org.id.as_str(), details).await;
    Ok(org)
}

/// The organizations the caller belongs to (instance admins: all).
pub async fn list(state: &AppState, caller: &Caller) -> ServiceResult<Vec<Org>> {
    Ok(match &caller.principal {
        Principal::Token(token) => state.store.find_org(token.org_id).await?.into_iter().collect(),
        Principal::User(user) if user.instance_admin => state.store.list_orgs().await?,
        Principal::User(user) => state.store.memberships(user.user_id).await?.into_iter().map(|(org, _)| org).collect(),
    })
}

/// Renames an org (org admins; its slug and id stay) and changes its plan
/// (instance admins). Both are checked before either is written.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    name: Option<&str>,
    plan: Option<&str>,
) -> ServiceResult<Org> {
    let name = name.map(|name| DisplayName::parse("name", name).map_err(invalid)).transpose()?;
    if name.is_some() {
        caller.principal.authorize(Scope::Admin, org.id, Area::Org)?;
    }
    let plan = plan.map(parse_plan).transpose()?;
    if plan.is_some() {
        caller.principal.require_instance_admin()?;
    }
    if let Some(name) = name.filter(|name| name.as_str() != org.name) {
        state.store.rename_org(org.id, name.as_str()).await?;
        let details = json!({ "from": org.name, "to": name.as_str() });
        audit::record(state, caller, Some(org.id), AuditAction::OrgRenamed, org.id.as_str(), details).await;
    }
    if let Some(plan) = plan {
        state.store.set_plan(org.id, plan).await?;
        let details = json!({ "from": org.plan.as_str(), "to": plan.as_str() });
        audit::record(state, caller, Some(org.id), AuditAction::OrgPlanChanged, org.id.as_str(), details).await;
    }
    state.store.find_org(org.id).await?.ok_or(ServiceError::NotFound("organization"))
}

/// What deleting an org did.
#[derive(Debug, Clone, Copy)]
pub struct Deleted {
    /// Tokens that were active and stopped working.
    pub revoked_tokens: u64,
}

/// Deletes `org` (its owners only) with its projects, environments, rules,
/// deployments and memberships; every token of it stops working at once, on
/// every node. The audit trail stays.
pub async fn delete(state: &AppState, caller: &Caller, org: &Org) -> ServiceResult<Deleted> {
    caller.principal.may_delete_org(org.id)?;
    let now = state.clock.now();
    let revoked_tokens = state.store.count_active_tokens(org.id, now).await?;
    if !state.store.delete_org(org.id, now).await? {
        return Err(ServiceError::NotFound("organization"));
    }
    state.verifier.forget_all();
    let details = json!({ "slug": org.slug, "name": org.name, "revoked_tokens": revoked_tokens });
    audit::record(state, caller, Some(org.id), AuditAction::OrgDeleted, org.id.as_str(), details).await;
    Ok(Deleted { revoked_tokens })
}

/// One org as the instance admin's overview shows it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub org: Org,
    pub usage: Usage,
    /// The emails of its owners.
    pub owners: Vec<String>,
}

/// Every org of the instance with its plan usage and owners (instance admins).
pub async fn overview(state: &AppState, caller: &Caller) -> ServiceResult<Vec<Summary>> {
    caller.principal.require_instance_admin()?;
    let mut summaries = Vec::new();
    for org in state.store.list_orgs().await? {
        let usage = usage(state, &org).await?;
        let members = state.store.list_members(org.id).await?;
        let owners = members.into_iter().filter(|m| m.role == Role::Owner).map(|m| m.email).collect();
        summaries.push(Summary { org, usage, owners });
    }
    Ok(summaries)
}
