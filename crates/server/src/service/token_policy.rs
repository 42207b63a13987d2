//! Narrowing tokens: changing a token's name and allow list, an org's
//! lifetime policy and the tokens out of it, attenuated child tokens, and
//! the audit of uses from outside an allow list.

use std::net::IpAddr;

use gatepass_core::expiry;
use gatepass_core::id::TokenId;
use gatepass_core::name::DisplayName;
use gatepass_core::policy::{self, AllowedIps, OrgPolicy, Terms, Widening};
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scopes;
use gatepass_core::token::PlainToken;
use gatepass_store::{Actor, NewToken, Org, TokenRecord, TokenUpdate};
use serde_json::json;
use time::OffsetDateTime;

use super::audit::{self, AuditAction};
use super::caller::token_actor;
use super::tokens::{self, DEFAULT_TOKEN_NAME};
use super::{invalid, Caller, ServiceError, ServiceResult};
use crate::metrics::bump;
use crate::state::AppState;
use crate::verify::VerifiedToken;

/// Audits a valid token used from outside its allow list, at most once a
/// minute per token (see [`crate::auth::ip_denials`]).
pub async fn ip_denied(state: &AppState, token: &VerifiedToken, client_ip: IpAddr, now: OffsetDateTime) {
    if !state.ip_denials.should_audit(token.id, now) {
        return;
    }
    let actor = token_actor(state, token).await;
    let details = json!({ "client_ip": client_ip.to_string(), "audited_at_most": "once a minute per token" });
    audit::record_as(
        state,
        &actor,
        client_ip,
        Some(token.org_id),
        AuditAction::TokenIpDenied,
        token.id.as_str(),
        details,
    )
    .await;
}

/// A checked `PATCH` of a token: `None` keeps what is there.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    pub name: Option<DisplayName>,
    pub allowed_ips: Option<AllowedIps>,
}

impl UpdateRequest {
    pub fn parse(name: Option<&str>, allowed_ips: Option<&[String]>) -> ServiceResult<Self> {
        Ok(UpdateRequest {
            name: name.map(|name| DisplayName::parse("name", name).map_err(invalid)).transpose()?,
            allowed_ips: tokens::parse_allowed_ips(allowed_ips)?,
        })
    }
}

/// Renames a token or replaces its allow list (an empty list: anywhere).
/// Every node applies a new list from the change feed, within 1 s.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    record: &TokenRecord,
    request: UpdateRequest,
) -> ServiceResult<TokenRecord> {
    caller.principal.may_manage(record.org_id, record.reach, record.scopes)?;
    let update = TokenUpdate { name: request.name.map(DisplayName::into_string), allowed_ips: request.allowed_ips };
    if update.name.is_none() && update.allowed_ips.is_none() {
        return Ok(record.clone());
    }
    if !state.store.update_token(record.id, &update).await? {
        return Err(ServiceError::NotFound("token"));
    }
    state.verifier.forget_token(record);
    let mut details = json!({ "preview": record.preview });
    if let Some(name) = &update.name {
        details["name"] = json!({ "from": record.name, "to": name });
    }
    if let Some(allowed_ips) = &update.allowed_ips {
        details["allowed_ips"] = json!({ "from": record.allowed_ips.to_stored(), "to": allowed_ips.to_stored() });
    }
    audit::record(state, caller, Some(record.org_id), AuditAction::TokenUpdated, record.id.as_str(), details).await;
    state.store.find_token(record.id).await?.ok_or(ServiceError::NotFound("token"))
}

/// An org's policy with how many of its live tokens break it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyReport {
    pub policy: OrgPolicy,
    pub tokens_out_of_policy: u64,
}

/// The org's policy and the live tokens out of it (reported, not revoked).
pub async fn report(state: &AppState, org: &Org) -> ServiceResult<PolicyReport> {
    let policy = state.store.org_policy(org.id).await?;
    let tokens_out_of_policy = state.store.count_tokens_out_of_policy(org.id, &policy, state.clock.now()).await?;
    Ok(PolicyReport { policy, tokens_out_of_policy })
}

/// Reads a policy as a request spells it: `max_token_lifetime` a duration
/// (`90d`, `720h`) or none, `require_expiry` a flag.
pub fn parse_policy(max_token_lifetime: Option<&str>, require_expiry: bool) -> ServiceResult<OrgPolicy> {
    let max_token_lifetime = max_token_lifetime
        .map(|text| expiry::parse_duration(text).map_err(|err| invalid(format!("max_token_lifetime: {err}"))))
        .transpose()?;
    Ok(OrgPolicy { max_token_lifetime, require_expiry })
}

/// Sets the org's token policy (its admins). Tokens that break it are
/// reported by [`report`], not revoked.
pub async fn set_policy(state: &AppState, caller: &Caller, org: &Org, policy: OrgPolicy) -> ServiceResult<()> {
    caller.principal.may_set_token_policy(org.id)?;
    let before = state.store.org_policy(org.id).await?;
    if before == policy {
        return Ok(());
    }
    state.store.set_org_policy(org.id, &policy).await?;
    let describe = |policy: &OrgPolicy| {
        json!({
            "max_token_lifetime": policy.max_token_lifetime.map(policy::format_lifetime),
            "require_expiry": policy.require_expiry,
        })
    };
    let details = json!({ "from": describe(&before), "to": describe(&policy) });
    audit::record(state, caller, Some(org.id), AuditAction::OrgPolicyChanged, org.id.as_str(), details).await;
    Ok(())
}

/// What a token asks of its child, as the request spells it.
#[derive(Debug, Clone, Default)]
pub struct AttenuateRequest<'a> {
    pub name: Option<&'a str>,
    pub scopes: Option<&'a [String]>,
    /// A project within the parent's reach (id or slug), for an org token's child.
    pub project: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub expires_in: Option<&'a str>,
    pub allowed_ips: Option<&'a [String]>,
}

/// Derives from the calling token a child that can only do less: scopes a
/// subset (default: the parent's), reach inside the parent's (an
/// environment by id, or by name under a project-level parent), an expiry
/// no later than the parent's (default: the parent's), an allow list inside
/// the parent's (default: the parent's). It counts towards the plan limit
/// like any token, a parent has at most 100 live children, and it dies
/// with its parent.
pub async fn attenuate(
    state: &AppState,
    caller: &Caller,
    request: AttenuateRequest<'_>,
) -> ServiceResult<(TokenRecord, PlainToken)> {
    caller.principal.may_attenuate()?;
    let salt = state.verifier.salt()?;
    let verified = caller.token.as_ref().ok_or(ServiceError::Unauthorized)?;
    let parent = state.verifier.answers(verified).await?.ok_or(ServiceError::Unauthorized)?;
    let parent = &parent.record;
    let now = state.clock.now();
    let name = DisplayName::parse("name", request.name.unwrap_or(DEFAULT_TOKEN_NAME)).map_err(invalid)?;
    let scopes = match request.scopes {
        None => parent.scopes,
        Some(list) => Scopes::parse_each(list.iter().map(String::as_str)).map_err(invalid)?,
    };
    let reach = match (request.project, request.environment) {
        (None, None) => parent.reach,
        (Some(key), environment) => project_within(state, parent, key, environment).await?,
        (None, Some(key)) => environment_within(state, parent, key).await?,
    };
    let expires_at = match request.expires_in {
        None => parent.expires_at,
        Some(text) => Some(expiry::resolve_expiry(None, Some(text), now).map_err(invalid)?.unwrap_or(now)),
    };
    let allowed_ips = tokens::parse_allowed_ips(request.allowed_ips)?.unwrap_or_else(|| parent.allowed_ips.clone());
    let parent_terms = Terms {
        reach: parent.reach,
        scopes: parent.scopes,
        expires_at: parent.expires_at,
        allowed_ips: parent.allowed_ips.clone(),
    };
    let child_terms = Terms { reach, scopes, expires_at, allowed_ips };
    policy::check_attenuation(&parent_terms, &child_terms)?;
    state.store.org_policy(parent.org_id).await?.check(child_terms.expires_at, now)?;
    let plain = PlainToken::generate(reach.token_kind());
    let new = NewToken {
        id: TokenId::generate(),
        org_id: parent.org_id,
        name: name.into_string(),
        reach,
        scopes,
        preview: plain.preview(),
        digest: salt.digest(plain.expose_secret()),
        created_by: Actor::token(parent.id, &parent.name),
        created_at: now,
        expires_at: child_terms.expires_at,
        allowed_ips: child_terms.allowed_ips,
        parent_id: Some(parent.id),
        salt_fingerprint: salt.fingerprint(),
        source: gatepass_core::token::TokenSource::User,
    };
    state.store.insert_token(&new).await.map_err(|err| match err {
        gatepass_store::StoreError::Missing("parent token") => ServiceError::Unauthorized,
        other => other.into(),
    })?;
    bump(&state.metrics.tokens_created);
    let details = json!({
        "name": new.name,
        "parent": parent.id.as_str(),
        "level": new.reach.level().as_str(),
        "scopes": new.scopes.to_list_string(),
        "preview": new.preview,
        "expires_at": new.expires_at.map(expiry::format_rfc3339),
        "allowed_ips": new.allowed_ips.to_stored(),
    });
    audit::record(state, caller, Some(new.org_id), AuditAction::TokenAttenuated, new.id.as_str(), details).await;
    Ok((new.into(), plain))
}

/// The project `key` names (id or slug) in `parent`'s org, or an
/// environment of it by name or id; whether it lies within the parent's
/// reach is [`policy::check_attenuation`]'s to say.
async fn project_within(
    state: &AppState,
    parent: &TokenRecord,
    key: &str,
    environment: Option<&str>,
) -> ServiceResult<Reach> {
    let widening = || ServiceError::Widening(Widening::Environment);
    let project = match gatepass_core::id::ProjectId::parse(key) {
        Ok(id) => state.store.find_project(id).await?,
        Err(_) => state.store.find_projects_by_slug(key.trim()).await?.into_iter().find(|p| p.org_id == parent.org_id),
    };
    let project = project.filter(|project| project.org_id == parent.org_id).ok_or_else(widening)?;
    let Some(key) = environment else { return Ok(Reach::Project(project.id)) };
    let environment = crate::service::resolve::environment(state, &project, key).await.map_err(|_| widening())?;
    Ok(Reach::Environment(project.id, environment.id))
}

/// The environment `key` names, if it lies within `parent`'s reach: by id
/// anywhere in the parent's org, or by name within the parent's project.
async fn environment_within(state: &AppState, parent: &TokenRecord, key: &str) -> ServiceResult<Reach> {
    let widening = || ServiceError::Widening(Widening::Environment);
    let environment = if gatepass_core::id::EnvironmentId::looks_like(key) {
        let id = gatepass_core::id::EnvironmentId::parse(key).map_err(|_| widening())?;
        state.store.find_environment(id).await?
    } else {
        match parent.reach.project() {
            Some(project) => state.store.find_environment_by_name(project, key.trim()).await?,
            // An org-level parent has no project to look a name up in.
            None => {
                return Err(ServiceError::Invalid(
                    "environment: an org token's child names its environment by id (env_…)".into(),
                ))
            }
        }
    };
    let environment = environment.ok_or_else(widening)?;
    let project = state.store.find_project(environment.project_id).await?.ok_or_else(widening)?;
    if project.org_id != parent.org_id {
        return Err(widening());
    }
    Ok(Reach::Environment(project.id, environment.id))
}
