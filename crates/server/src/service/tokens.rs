//! Token lifecycle: issue, rotate, revoke, delete — shared by the API and the
//! dashboard, with the authorization, audit and metrics each one needs.

use std::collections::HashMap;

use gatepass_core::id::{EnvironmentId, ProjectId, TokenId};
use gatepass_core::name::DisplayName;
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scopes;
use gatepass_core::token::PlainToken;
use gatepass_store::{NewToken, Org, Rotation, TokenChange, TokenRecord};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::audit;
use crate::auth::Caller;
use crate::error::{invalid, ApiError, ApiResult};
use crate::metrics::bump;
use crate::state::AppState;

pub const DEFAULT_TOKEN_NAME: &str = "deployment token";

/// A checked request for a new token.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub name: DisplayName,
    pub reach: Reach,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
}

pub async fn issue(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    request: IssueRequest,
) -> ApiResult<(TokenRecord, PlainToken)> {
    caller.principal.may_issue(org.id, request.reach, request.scopes)?;
    let salt = state.verifier.salt()?;
    let plain = PlainToken::generate(request.reach.token_kind());
    let new = NewToken {
        id: TokenId::generate(),
        org_id: org.id,
        name: request.name.into_string(),
        reach: request.reach,
        scopes: request.scopes,
        preview: plain.preview(),
        digest: salt.digest(plain.expose_secret()),
        created_by: caller.actor(),
        created_at: state.clock.now(),
        expires_at: request.expires_at,
    };
    state.store.insert_token(&new).await?;
    bump(&state.metrics.tokens_created);
    let details = json!({
        "name": new.name,
        "level": new.reach.level().as_str(),
        "scopes": new.scopes.to_list_string(),
        "preview": new.preview,
    });
    audit::record(state, Some(org.id), &caller.actor(), caller.client_ip, "token.created", new.id.as_str(), details)
        .await;
    Ok((new.into(), plain))
}

/// The token `id` of `org`, if the caller may see it.
pub async fn find(state: &AppState, caller: &Caller, org: &Org, id: &str) -> ApiResult<TokenRecord> {
    let id = TokenId::parse(id).map_err(|_| ApiError::NotFound("token"))?;
    let record = state.store.find_token(id).await?.filter(|record| record.org_id == org.id);
    let record = record.ok_or(ApiError::NotFound("token"))?;
    if !caller.principal.sees(org.id, record.reach.project(), record.reach.environment()) {
        return Err(ApiError::NotFound("token"));
    }
    Ok(record)
}

/// Issues a new secret for `record`; the old one works for `grace` more, or stops now.
pub async fn rotate(
    state: &AppState,
    caller: &Caller,
    record: &TokenRecord,
    grace: Option<Duration>,
) -> ApiResult<(TokenRecord, PlainToken)> {
    caller.principal.may_manage(record.org_id, record.reach, record.scopes)?;
    let salt = state.verifier.salt()?;
    let now = state.clock.now();
    if record.status(now) != gatepass_store::TokenStatus::Active {
        return Err(ApiError::Conflict(format!(
            "token {} is {} and cannot be rotated",
            record.id,
            record.status(now).as_str()
        )));
    }
    let plain = PlainToken::generate(record.reach.token_kind());
    let rotation = Rotation {
        digest: salt.digest(plain.expose_secret()),
        preview: plain.preview(),
        previous_valid_until: grace.map(|grace| now + grace),
        at: now,
    };
    if !state.store.rotate_token(record.id, &rotation).await? {
        return Err(ApiError::Conflict(format!("token {} was revoked meanwhile", record.id)));
    }
    state.verifier.cache().forget(TokenChange::Token(record.id));
    bump(&state.metrics.tokens_rotated);
    let details = json!({ "grace_seconds": grace.map(|g| g.whole_seconds()), "preview": rotation.preview });
    audit::record(
        state,
        Some(record.org_id),
        &caller.actor(),
        caller.client_ip,
        "token.rotated",
        record.id.as_str(),
        details,
    )
    .await;
    let updated = state.store.find_token(record.id).await?.ok_or(ApiError::NotFound("token"))?;
    Ok((updated, plain))
}

/// Revokes at once; with `delete_record`, also removes it from every list.
pub async fn revoke(state: &AppState, caller: &Caller, record: &TokenRecord, delete_record: bool) -> ApiResult<()> {
    caller.principal.may_manage(record.org_id, record.reach, record.scopes)?;
    let now = state.clock.now();
    let was_revoked = record.revoked_at.is_some();
    state.store.revoke_token(record.id, now).await?;
    state.verifier.cache().forget(TokenChange::Token(record.id));
    if !was_revoked {
        bump(&state.metrics.tokens_revoked);
        let details = json!({ "name": record.name, "preview": record.preview });
        audit::record(
            state,
            Some(record.org_id),
            &caller.actor(),
            caller.client_ip,
            "token.revoked",
            record.id.as_str(),
            details,
        )
        .await;
    }
    if delete_record {
        state.store.delete_token(record.id).await?;
        let details = json!({ "name": record.name, "preview": record.preview });
        audit::record(
            state,
            Some(record.org_id),
            &caller.actor(),
            caller.client_ip,
            "token.deleted",
            record.id.as_str(),
            details,
        )
        .await;
    }
    Ok(())
}

/// Labels for what tokens reach (`org`, `web`, `web/production`), built with
/// one lookup per project rather than one per token.
pub struct TargetLabels {
    projects: HashMap<ProjectId, String>,
    environments: HashMap<EnvironmentId, String>,
}

impl TargetLabels {
    pub async fn load(state: &AppState, org: &Org) -> ApiResult<Self> {
        let mut projects = HashMap::new();
        let mut environments = HashMap::new();
        for project in state.store.list_projects(org.id).await? {
            for env in state.store.list_environments(project.id).await? {
                environments.insert(env.id, env.name);
            }
            projects.insert(project.id, project.slug);
        }
        Ok(Self { projects, environments })
    }

    /// Just what one token's label needs, from the node's label cache.
    pub async fn load_for(state: &AppState, reach: Reach) -> ApiResult<Self> {
        let mut projects = HashMap::new();
        let mut environments = HashMap::new();
        if let Some(id) = reach.project() {
            if let Some(slug) = state.labels.project_slug(state.store.as_ref(), id).await? {
                projects.insert(id, slug);
            }
        }
        if let Some(id) = reach.environment() {
            if let Some(name) = state.labels.environment_name(state.store.as_ref(), id).await? {
                environments.insert(id, name);
            }
        }
        Ok(Self { projects, environments })
    }

    pub fn label(&self, reach: Reach) -> String {
        let project = |id: ProjectId| self.projects.get(&id).cloned().unwrap_or_else(|| id.to_string());
        match reach {
            Reach::Org => "org".into(),
            Reach::Project(p) => project(p),
            Reach::Environment(p, e) => {
                format!("{}/{}", project(p), self.environments.get(&e).cloned().unwrap_or_else(|| e.to_string()))
            }
        }
    }
}

/// Parses scopes, defaulting to `deploy` when none are given.
pub fn scopes_or_default(scopes: Option<&[String]>) -> ApiResult<Scopes> {
    match scopes {
        None => Ok(Scopes::only(gatepass_core::scope::Scope::Deploy)),
        Some(list) => Scopes::parse_each(list.iter().map(String::as_str)).map_err(invalid),
    }
}
