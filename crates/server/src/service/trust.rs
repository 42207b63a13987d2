//! Trusted deploys (SPEC 6.2): project admins trust a CI identity with a
//! trust policy, and a CI job trades its OpenID Connect ID token for a
//! short-lived token that reaches exactly what the policy names, with
//! exactly its scopes, for at most its `max_ttl`.
//!
//! The exchange has no caller: the ID token is the credential. Every
//! check that fails answers `oidc-rejected` with a detail that starts with
//! the check's name (`signature`, `issuer`, `audience`, `expired`, `nbf`,
//! `iat`, `claim \`repository\``, `replayed`, `no matching policy`), and
//! nothing is minted.

use std::borrow::Cow;
use std::net::IpAddr;

use gatepass_core::access::Area;
use gatepass_core::expiry::{format_duration, format_rfc3339};
use gatepass_core::id::{TokenId, TrustPolicyId};
use gatepass_core::name::{DisplayName, MAX_NAME_LEN};
use gatepass_core::reach::Reach;
use gatepass_core::scope::{Scope, Scopes};
use gatepass_core::token::{PlainToken, TokenSource};
use gatepass_core::trust::{self, ClaimConditions, CLOCK_LEEWAY};
use gatepass_store::{Actor, NewToken, Project, TokenRecord, TrustPolicy, UsedJti};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::audit::{self, AuditAction};
use super::{invalid, resolve, Caller, ServiceError, ServiceResult};
use crate::auth::oidc::{self, KeyError};
use crate::metrics::bump;
use crate::state::AppState;

/// A trust policy as a request spells it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRequest<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Claim name → exact value or glob.
    pub claims: &'a [(String, String)],
    /// The minted token's environment (id or name); `None`: the whole project.
    pub environment: Option<&'a str>,
    /// Default `deploy`.
    pub scopes: Option<&'a [String]>,
    /// Default `15m`, at most `1h`.
    pub max_ttl: Option<&'a str>,
}

/// The reach a policy's tokens get.
pub fn reach(policy: &TrustPolicy) -> Reach {
    match policy.environment_id {
        Some(environment) => Reach::Environment(policy.project_id, environment),
        None => Reach::Project(policy.project_id),
    }
}

/// Trusts a CI identity with tokens of `project`. Needs `admin` over what
/// the minted tokens would reach, and a token can trust nobody with more
/// than it holds itself.
pub async fn create_policy(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    request: PolicyRequest<'_>,
) -> ServiceResult<TrustPolicy> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let issuer = trust::parse_issuer(request.issuer, state.oidc_keys.allows_http()).map_err(invalid)?;
    let audience = trust::parse_audience(request.audience).map_err(invalid)?;
    let conditions = ClaimConditions::parse(request.claims.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .map_err(invalid)?;
    let scopes = match request.scopes {
        None => Scopes::only(Scope::Deploy),
        Some(list) => Scopes::parse_each(list.iter().map(String::as_str)).map_err(invalid)?,
    };
    let max_ttl = trust::parse_max_ttl(request.max_ttl).map_err(ServiceError::Invalid)?;
    let environment = match request.environment.map(str::trim).filter(|key| !key.is_empty()) {
        Some(key) => Some(resolve::environment(state, project, key).await?),
        None => None,
    };
    let policy = TrustPolicy {
        id: TrustPolicyId::generate(),
        org_id: project.org_id,
        project_id: project.id,
        environment_id: environment.as_ref().map(|env| env.id),
        issuer,
        audience,
        claims: conditions.iter().map(|(name, pattern)| (name.to_string(), pattern.as_str().to_string())).collect(),
        scopes,
        max_ttl,
        created_by: caller.actor(state).await,
        created_at: state.clock.now(),
    };
    caller.principal.may_issue(project.org_id, reach(&policy), policy.scopes)?;
    state.store.create_trust_policy(&policy).await?;
    let details = json!({
        "project": project.id,
        "issuer": policy.issuer,
        "audience": policy.audience,
        "claims": claims_object(&policy.claims),
        "environment": environment.map(|env| env.name),
        "scopes": policy.scopes.to_list_string(),
        "max_ttl": format_duration(policy.max_ttl),
    });
    audit::record(state, caller, Some(project.org_id), AuditAction::TrustPolicyCreated, policy.id.as_str(), details)
        .await;
    Ok(policy)
}

/// A project's trust policies (needs `admin` in the project).
pub async fn list_policies(state: &AppState, caller: &Caller, project: &Project) -> ServiceResult<Vec<TrustPolicy>> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    Ok(state.store.list_trust_policies(project.id).await?)
}

/// Stops trusting a CI identity (needs `admin` in the project). Tokens it
/// minted live out their few minutes.
pub async fn delete_policy(state: &AppState, caller: &Caller, project: &Project, id: &str) -> ServiceResult<()> {
    caller.principal.authorize(Scope::Admin, project.org_id, Area::Project(project.id))?;
    let id = TrustPolicyId::parse(id).map_err(|_| ServiceError::NotFound("trust policy"))?;
    let policies = state.store.list_trust_policies(project.id).await?;
    let policy = policies.into_iter().find(|policy| policy.id == id).ok_or(ServiceError::NotFound("trust policy"))?;
    caller.principal.may_manage(project.org_id, reach(&policy), policy.scopes)?;
    if !state.store.delete_trust_policy(project.id, id).await? {
        return Err(ServiceError::NotFound("trust policy"));
    }
    let details = json!({ "project": project.id, "issuer": policy.issuer });
    audit::record(state, caller, Some(project.org_id), AuditAction::TrustPolicyDeleted, id.as_str(), details).await;
    Ok(())
}

/// A token minted for a CI job.
pub struct Minted {
    pub record: TokenRecord,
    pub plain: PlainToken,
    pub policy: TrustPolicyId,
}

fn rejected(check: &str, why: impl std::fmt::Display) -> ServiceError {
    ServiceError::OidcRejected(format!("{check}: {why}"))
}

/// Trades the ID token `jwt` for a token, if a trust policy trusts it.
/// `project` (an id or slug), when given, considers only that project's
/// policies: a job that says where it deploys is never matched by another
/// project's policy that happens to trust it too.
pub async fn exchange(state: &AppState, client_ip: IpAddr, jwt: &str, project: Option<&str>) -> ServiceResult<Minted> {
    let result = mint(state, client_ip, jwt, project).await;
    if let Err(ServiceError::OidcRejected(detail)) = &result {
        tracing::info!(%client_ip, %detail, "refused an OIDC ID token");
    }
    result
}

async fn mint(state: &AppState, client_ip: IpAddr, jwt: &str, project: Option<&str>) -> ServiceResult<Minted> {
    let salt = state.verifier.salt()?;
    let unverified = oidc::peek(jwt.trim()).map_err(|why| rejected("signature", why))?;
    let issuer = trust::normalize_issuer(&unverified.issuer);
    if trust::parse_issuer(issuer, state.oidc_keys.allows_http()).is_err() {
        return Err(rejected("issuer", format!("{} is not an https:// issuer", quoted(issuer))));
    }
    let mut policies = state.store.trust_policies_for_issuer(issuer).await?;
    if let Some(key) = project.map(str::trim).filter(|key| !key.is_empty()) {
        let mut kept = Vec::with_capacity(policies.len());
        for policy in policies {
            let named = policy.project_id.as_str() == key
                || state.store.find_project(policy.project_id).await?.is_some_and(|found| found.slug == key);
            if named {
                kept.push(policy);
            }
        }
        policies = kept;
    }
    if policies.is_empty() {
        let whose = project.map(|key| format!(" for project {}", quoted(key))).unwrap_or_default();
        return Err(rejected("issuer", format!("no trust policy{whose} trusts the issuer {}", quoted(issuer))));
    }
    let now = state.clock.now();
    let key =
        state.oidc_keys.key(issuer, unverified.key_id.as_deref(), unverified.algorithm, now).await.map_err(|err| {
            match err {
                KeyError::Unavailable { .. } => ServiceError::OidcIssuerUnavailable(err.to_string()),
                other => rejected("signature", other),
            }
        })?;
    let claims =
        oidc::verify_signature(jwt.trim(), &key, unverified.algorithm).map_err(|why| rejected("signature", why))?;
    if claims.get("iss").and_then(Value::as_str) != Some(unverified.issuer.as_str()) {
        return Err(rejected("issuer", "the signed iss differs"));
    }
    let expires = check_times(&claims, now)?;
    let (policy, matched) = matching_policy(&policies, &claims)?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or_else(|| rejected("replayed", "the ID token has no jti, so it could be used again"))?;

    // The org's lifetime policy caps a minted token as it caps any other;
    // the token comes out shorter rather than refused.
    let longest = now + policy.max_ttl;
    let expires_at =
        state.store.org_policy(policy.org_id).await?.latest_expiry(now).map_or(longest, |cap| cap.min(longest));
    let plain = PlainToken::generate(reach(policy).token_kind());
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let new = NewToken {
        id: TokenId::generate(),
        org_id: policy.org_id,
        name: token_name(subject),
        reach: reach(policy),
        scopes: policy.scopes,
        preview: plain.preview(),
        digest: salt.digest(plain.expose_secret()),
        created_by: Actor { id: policy.id.to_string(), label: format!("trust policy {}", policy.id) },
        created_at: now,
        expires_at: Some(expires_at),
        allowed_ips: Default::default(),
        parent_id: None,
        salt_fingerprint: salt.fingerprint(),
        source: TokenSource::Oidc,
    };
    let used = UsedJti { issuer: issuer.to_string(), jti: jti.to_string(), until: expires + CLOCK_LEEWAY };
    if !state.store.mint_token(&new, &used).await? {
        return Err(rejected("replayed", "this ID token (its jti) was used before"));
    }
    bump(&state.metrics.tokens_created);
    let details = json!({
        "name": new.name,
        "level": new.reach.level().as_str(),
        "scopes": new.scopes.to_list_string(),
        "preview": new.preview,
        "source": TokenSource::Oidc.as_str(),
        "policy": policy.id,
        "issuer": issuer,
        "subject": subject,
        "claims": matched,
        "expires_at": new.expires_at.map(format_rfc3339),
    });
    audit::record_as(
        state,
        &new.created_by,
        client_ip,
        Some(policy.org_id),
        AuditAction::TokenCreated,
        new.id.as_str(),
        details,
    )
    .await;
    Ok(Minted { record: new.into(), plain, policy: policy.id })
}

/// Checks `exp`, `nbf` and `iat` against `now` with 60 s leeway; answers `exp`.
fn check_times(claims: &Map<String, Value>, now: OffsetDateTime) -> ServiceResult<OffsetDateTime> {
    let instant = |name: &str| -> ServiceResult<Option<OffsetDateTime>> {
        match claims.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
                .map(Some)
                .ok_or_else(|| rejected(name, format!("{name} is not a time in seconds"))),
        }
    };
    let expires = instant("exp")?.ok_or_else(|| rejected("expired", "the ID token has no exp"))?;
    if expires + CLOCK_LEEWAY < now {
        return Err(rejected("expired", format!("the ID token expired at {}", format_rfc3339(expires))));
    }
    if let Some(not_before) = instant("nbf")? {
        if not_before - CLOCK_LEEWAY > now {
            return Err(rejected("nbf", format!("the ID token is not valid before {}", format_rfc3339(not_before))));
        }
    }
    if let Some(issued) = instant("iat")? {
        if issued - CLOCK_LEEWAY > now {
            return Err(rejected("iat", format!("the ID token was issued in the future ({})", format_rfc3339(issued))));
        }
    }
    Ok(expires)
}

/// A claim's value as text: strings, numbers and booleans.
fn claim_text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<Cow<'a, str>> {
    match claims.get(name)? {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        Value::Bool(flag) => Some(Cow::Owned(flag.to_string())),
        _ => None,
    }
}

/// The first policy (oldest first) whose audience and claims the ID token
/// satisfies, with the claims that matched; or the rejection that names
/// what failed.
fn matching_policy<'p>(
    policies: &'p [TrustPolicy],
    claims: &Map<String, Value>,
) -> ServiceResult<(&'p TrustPolicy, Value)> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let candidates: Vec<&TrustPolicy> =
        policies.iter().filter(|policy| audiences.contains(&policy.audience.as_str())).collect();
    if candidates.is_empty() {
        let shown: Vec<String> = audiences.iter().take(5).map(|aud| quoted(aud)).collect();
        return Err(rejected(
            "audience",
            format!("the ID token's audience [{}] is not that of any trust policy of its issuer", shown.join(", ")),
        ));
    }
    let mut failed_claims: Vec<String> = Vec::new();
    for policy in candidates {
        let Ok(conditions) =
            ClaimConditions::parse(policy.claims.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        else {
            tracing::error!(policy = %policy.id, "a stored trust policy has conditions that no longer parse");
            continue;
        };
        match conditions.first_mismatch(|name| claim_text(claims, name)) {
            None => {
                let matched: Map<String, Value> = conditions
                    .iter()
                    .map(|(name, _)| (name.to_string(), claims.get(name).cloned().unwrap_or(Value::Null)))
                    .collect();
                return Ok((policy, Value::Object(matched)));
            }
            Some(claim) => failed_claims.push(claim.to_string()),
        }
    }
    failed_claims.dedup();
    match failed_claims.as_slice() {
        [claim] => {
            let value = claim_text(claims, claim).map(|v| quoted(&v)).unwrap_or_else(|| "absent".into());
            Err(rejected(&format!("claim `{claim}`"), format!("the ID token's {claim} ({value}) is not trusted")))
        }
        _ => Err(rejected("no matching policy", "no trust policy of this issuer and audience matches every claim")),
    }
}

/// The name a minted token gets: what it was minted for.
fn token_name(subject: &str) -> String {
    let name: String = format!("oidc {subject}").chars().take(MAX_NAME_LEN).collect();
    DisplayName::parse("name", name.trim()).map(DisplayName::into_string).unwrap_or_else(|_| "oidc".into())
}

/// A claim's value quoted back, cut short: it is the caller's text.
fn quoted(text: &str) -> String {
    format!("{:?}", text.chars().take(120).collect::<String>())
}

/// Claim conditions as a JSON object, for answers and audit events.
pub fn claims_object(claims: &[(String, String)]) -> Value {
    Value::Object(claims.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect())
}
