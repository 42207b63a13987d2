//! The token lifecycle: issue, find, list, rotate, revoke and delete, with the
//! authorization, audit and metrics each one needs. The API and the
//! dashboard both come here.

use std::net::IpAddr;

use gatepass_core::expiry;
use gatepass_core::id::{OrgId, TokenId};
use gatepass_core::name::DisplayName;
use gatepass_core::policy::AllowedIps;
use gatepass_core::reach::Reach;
use gatepass_core::scope::{Scope, Scopes};
use gatepass_core::token::{PlainToken, RevokedReason, TokenStatus};
use gatepass_store::{
    Actor, LeakSite, NewToken, Org, PageKey, PageRequest, Revocation, Rotation, TokenFilter, TokenRecord,
    TokenToRevoke, TokenUpdate,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::audit::{self, AuditAction};
use super::pages::{self, Page};
use super::{invalid, Caller, ServiceError, ServiceResult};
use crate::metrics::bump;
use crate::state::AppState;

pub const DEFAULT_TOKEN_NAME: &str = "deployment token";

/// A token's status now, by the core's rules.
pub fn status(record: &TokenRecord, now: OffsetDateTime) -> TokenStatus {
    TokenStatus::at(record.revoked_at, record.expires_at, now)
}

/// A checked request for a new token.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub name: DisplayName,
    pub reach: Reach,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
    pub allowed_ips: AllowedIps,
}

impl IssueRequest {
    /// Checks the terms of a new token as a request spells them: the name
    /// (default "deployment token"), scopes (default `deploy`), and an
    /// absolute expiry or a duration from `now`, and where it may be used
    /// from (default anywhere).
    pub fn parse(
        name: Option<&str>,
        reach: Reach,
        scopes: Option<&[String]>,
        expires_at: Option<&str>,
        expires_in: Option<&str>,
        allowed_ips: Option<&[String]>,
        now: OffsetDateTime,
    ) -> ServiceResult<Self> {
        Ok(IssueRequest {
            name: DisplayName::parse("name", name.unwrap_or(DEFAULT_TOKEN_NAME)).map_err(invalid)?,
            reach,
            scopes: match scopes {
                None => Scopes::only(Scope::Deploy),
                Some(list) => Scopes::parse_each(list.iter().map(String::as_str)).map_err(invalid)?,
            },
            expires_at: expiry::resolve_expiry(expires_at, expires_in, now).map_err(invalid)?,
            allowed_ips: parse_allowed_ips(allowed_ips)?.unwrap_or_default(),
        })
    }
}

/// An allow list as a request spells it; `None` when the request has none.
pub fn parse_allowed_ips(list: Option<&[String]>) -> ServiceResult<Option<AllowedIps>> {
    list.map(|list| AllowedIps::parse_each(list.iter().map(String::as_str))).transpose().map_err(invalid)
}

pub async fn issue(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    request: IssueRequest,
) -> ServiceResult<(TokenRecord, PlainToken)> {
    caller.principal.may_issue(org.id, request.reach, request.scopes)?;
    let salt = state.verifier.salt()?;
    let now = state.clock.now();
    state.store.org_policy(org.id).await?.check(request.expires_at, now)?;
    let plain = PlainToken::generate(request.reach.token_kind());
    let new = NewToken {
        id: TokenId::generate(),
        org_id: org.id,
        name: request.name.into_string(),
        reach: request.reach,
        scopes: request.scopes,
        preview: plain.preview(),
        digest: salt.digest(plain.expose_secret()),
        created_by: caller.actor(state).await,
        created_at: now,
        expires_at: request.expires_at,
        allowed_ips: request.allowed_ips,
        parent_id: None,
        salt_fingerprint: salt.fingerprint(),
        source: gatepass_core::token::TokenSource::User,
    };
    state.store.insert_token(&new).await?;
    bump(&state.metrics.tokens_created);
    let mut details = json!({
        "name": new.name,
        "level": new.reach.level().as_str(),
        "scopes": new.scopes.to_list_string(),
        "preview": new.preview,
    });
    if new.allowed_ips.is_restricted() {
        details["allowed_ips"] = json!(new.allowed_ips.to_stored());
    }
    audit::record(state, caller, Some(org.id), AuditAction::TokenCreated, new.id.as_str(), details).await;
    Ok((new.into(), plain))
}

/// The token `id` of `org`, if the caller may see it.
pub async fn find(state: &AppState, caller: &Caller, org: &Org, id: &str) -> ServiceResult<TokenRecord> {
    let id = TokenId::parse(id).map_err(|_| ServiceError::NotFound("token"))?;
    let record = state.store.find_token(id).await?.filter(|record| record.org_id == org.id);
    let record = record.ok_or(ServiceError::NotFound("token"))?;
    if !caller.principal.sees(org.id, record.reach.project(), record.reach.environment()) {
        return Err(ServiceError::NotFound("token"));
    }
    Ok(record)
}

/// The tokens of `org` that match `filter` and that the caller may see
/// (instance admins: all of them).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    filter: TokenFilter,
) -> ServiceResult<Vec<TokenRecord>> {
    caller.principal.authorize_reading(Scope::Read, org.id)?;
    let mut records = state.store.list_tokens(org.id, filter).await?;
    records.retain(|record| caller.principal.sees_listed(org.id, record.reach.project(), record.reach.environment()));
    Ok(records)
}

/// One page of [`list`], read with a limit: an org with 10,000 tokens
/// answers its first page as fast as one with 10.
pub async fn list_page(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    filter: TokenFilter,
    page: &PageRequest,
) -> ServiceResult<Page<TokenRecord>> {
    caller.principal.authorize_reading(Scope::Read, org.id)?;
    let rows = state.store.list_tokens_page(org.id, filter, &pages::one_more(page)).await?;
    let page = Page::from_rows(rows, page.limit, |record| PageKey { at: record.created_at, id: record.id.to_string() });
    Ok(page.retain(|record| caller.principal.sees_listed(org.id, record.reach.project(), record.reach.environment())))
}

/// Issues a new secret for `record`; the old one works for `grace` more, or
/// stops now. A new allow list, if given, replaces the old one. Children
/// attenuated from the token are revoked: they were derived from the
/// secret being replaced.
pub async fn rotate(
    state: &AppState,
    caller: &Caller,
    record: &TokenRecord,
    grace: Option<Duration>,
    allowed_ips: Option<AllowedIps>,
) -> ServiceResult<(TokenRecord, PlainToken)> {
    caller.principal.may_manage(record.org_id, record.reach, record.scopes)?;
    let salt = state.verifier.salt()?;
    let now = state.clock.now();
    let current = status(record, now);
    if current != TokenStatus::Active {
        return Err(ServiceError::Conflict(format!(
            "token {} is {} and cannot be rotated",
            record.id,
            current.as_str()
        )));
    }
    state.store.org_policy(record.org_id).await?.check(record.expires_at, now)?;
    if let Some(allowed_ips) = &allowed_ips {
        let update = TokenUpdate { name: None, allowed_ips: Some(allowed_ips.clone()) };
        state.store.update_token(record.id, &update).await?;
    }
    let plain = PlainToken::generate(record.reach.token_kind());
    let rotation = Rotation {
        digest: salt.digest(plain.expose_secret()),
        preview: plain.preview(),
        previous_valid_until: grace.map(|grace| now + grace),
        at: now,
        salt_fingerprint: salt.fingerprint(),
    };
    if !state.store.rotate_token(record.id, &rotation).await? {
        return Err(ServiceError::Conflict(format!("token {} was revoked meanwhile", record.id)));
    }
    state.verifier.forget_token(record);
    bump(&state.metrics.tokens_rotated);
    let mut details = json!({ "grace_seconds": grace.map(|g| g.whole_seconds()), "preview": rotation.preview });
    if let Some(allowed_ips) = &allowed_ips {
        details["allowed_ips"] = json!(allowed_ips.to_stored());
    }
    audit::record(state, caller, Some(record.org_id), AuditAction::TokenRotated, record.id.as_str(), details).await;
    let children = state.store.revoke_descendants(record.id, now).await?;
    let by = Revoker { actor: caller.actor(state).await, client_ip: caller.client_ip, reason: RevokedReason::User };
    descendants_revoked(state, &by, &children).await?;
    let updated = state.store.find_token(record.id).await?.ok_or(ServiceError::NotFound("token"))?;
    Ok((updated, plain))
}

/// Revokes at once; with `delete_record`, also removes it from every list.
pub async fn revoke(state: &AppState, caller: &Caller, record: &TokenRecord, delete_record: bool) -> ServiceResult<()> {
    caller.principal.may_manage(record.org_id, record.reach, record.scopes)?;
    let by = Revoker { actor: caller.actor(state).await, client_ip: caller.client_ip, reason: RevokedReason::User };
    revoke_all(state, &by, &[(record, None)]).await?;
    if delete_record {
        state.store.delete_token(record.id).await?;
        let details = json!({ "name": record.name, "preview": record.preview });
        audit::record(state, caller, Some(record.org_id), AuditAction::TokenDeleted, record.id.as_str(), details).await;
    }
    Ok(())
}

/// Who revokes tokens, from where, and why.
pub struct Revoker {
    pub actor: Actor,
    pub client_ip: IpAddr,
    pub reason: RevokedReason,
}

/// The one way tokens are revoked, whoever decided it: every one of
/// `tokens` at once, each with where it was found if it leaked. Each that
/// this revoked leaves this node's cache (other nodes hear of it through
/// the change feed), is counted, and gets its audit event: `token.revoked`,
/// `token.leaked` or `token.reported`, by the reason. Their children die
/// with them (`parent_revoked`). Returns the ones of `tokens` it revoked;
/// tokens revoked before are left as they were.
pub async fn revoke_all(
    state: &AppState,
    by: &Revoker,
    tokens: &[(&TokenRecord, Option<LeakSite>)],
) -> ServiceResult<Vec<TokenId>> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let revocation = Revocation { at: state.clock.now(), reason: by.reason };
    let targets: Vec<TokenToRevoke> =
        tokens.iter().map(|(record, leak)| TokenToRevoke { id: record.id, leak: leak.clone() }).collect();
    let revoked = state.store.revoke_tokens(&targets, revocation).await?;
    for (record, _) in tokens {
        state.verifier.forget_token(record);
    }
    let descendants: Vec<TokenId> =
        revoked.iter().copied().filter(|id| !tokens.iter().any(|(record, _)| record.id == *id)).collect();
    descendants_revoked(state, by, &descendants).await?;
    let revoked: Vec<TokenId> = revoked.into_iter().filter(|id| !descendants.contains(id)).collect();
    let action = match by.reason {
        RevokedReason::Leaked => AuditAction::TokenLeaked,
        RevokedReason::Reported => AuditAction::TokenReported,
        RevokedReason::User | RevokedReason::ParentRevoked | RevokedReason::Policy => AuditAction::TokenRevoked,
    };
    for (record, leak) in tokens.iter().filter(|(record, _)| revoked.contains(&record.id)) {
        bump(&state.metrics.tokens_revoked);
        let details = revocation_details(record, by.reason, leak.as_ref(), true);
        audit_as(state, by, record.org_id, action, record, details).await;
    }
    Ok(revoked)
}

/// Drops the children (and their descendants) a revocation or rotation of
/// their parent just revoked from this node's cache (other nodes hear of
/// them through the change feed), and audits each, reason `parent_revoked`.
async fn descendants_revoked(state: &AppState, by: &Revoker, ids: &[TokenId]) -> ServiceResult<()> {
    for id in ids {
        let Some(record) = state.store.find_token(*id).await? else { continue };
        state.verifier.forget_token(&record);
        bump(&state.metrics.tokens_revoked);
        let details = revocation_details(&record, RevokedReason::ParentRevoked, None, true);
        audit_as(state, by, record.org_id, AuditAction::TokenRevoked, &record, details).await;
    }
    Ok(())
}

/// What an audit event says about a revocation (or a leak of a token
/// revoked before: `revoked_now` false).
pub fn revocation_details(
    record: &TokenRecord,
    reason: RevokedReason,
    leak: Option<&LeakSite>,
    revoked_now: bool,
) -> serde_json::Value {
    let mut details = json!({ "name": record.name, "preview": record.preview, "reason": reason.as_str() });
    if let Some(site) = leak {
        details["url"] = json!(site.url);
        details["source"] = json!(site.source);
    }
    if !revoked_now {
        details["revoked_now"] = json!(false);
    }
    details
}

pub async fn audit_as(
    state: &AppState,
    by: &Revoker,
    org: OrgId,
    action: AuditAction,
    record: &TokenRecord,
    details: serde_json::Value,
) {
    audit::record_as(state, &by.actor, by.client_ip, Some(org), action, record.id.as_str(), details).await;
}
