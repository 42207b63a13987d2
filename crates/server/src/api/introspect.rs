//! `POST /v1/introspect`: RFC 7662-style checks for internal services that
//! accept deployment tokens. Needs an org `admin` credential; only tokens of
//! the caller's own orgs are ever reported active.

use axum::extract::State;
use axum::response::IntoResponse;
use gatepass_core::scope::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::verify::VerifyError;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// The token to check.
    pub token: String,
    /// Accepted for RFC 7662 compatibility; ignored.
    #[allow(dead_code)]
    pub token_type_hint: Option<String>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct IntrospectResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Space-separated scopes, as RFC 7662 has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

/// Is this token active, and what may it do?
#[utoipa::path(post, path = "/v1/introspect", tag = "tokens", request_body = IntrospectRequest,
    responses((status = 200, body = IntrospectResponse), (status = 403, body = Problem), (status = 429, body = Problem)),
    security(("bearer" = [])))]
pub async fn introspect(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<IntrospectRequest>,
) -> ApiResult<axum::response::Response> {
    let admin_somewhere = match &caller.principal {
        gatepass_core::access::Principal::Token(token) => {
            token.reach == gatepass_core::reach::Reach::Org && token.scopes.allows(Scope::Admin)
        }
        gatepass_core::access::Principal::User(user) => {
            user.memberships.iter().any(|(_, role)| role.scopes().allows(Scope::Admin))
        }
    };
    if !admin_somewhere {
        return Err(ApiError::Forbidden("introspection needs an org admin credential".into()));
    }
    let now = state.clock.now();
    let inactive = || {
        // An inactive answer counts as a failed attempt: introspection must
        // not become a way around the failed-auth limit.
        state.limiter.record_failure(caller.client_ip, now);
        Ok(axum::Json(IntrospectResponse::default()).into_response())
    };
    let record = match state.verifier.verify(&body.token, now).await {
        Ok(record) => record,
        Err(VerifyError::Rejected) => return inactive(),
        Err(VerifyError::Salt(err)) => return Err(err.into()),
        Err(VerifyError::Store(err)) => return Err(err.into()),
    };
    if caller.principal.authorize(Scope::Admin, record.org_id, gatepass_core::access::Area::Org).is_err() {
        return inactive();
    }
    let body = record.introspection_body.get_or_init(|| {
        let answer = IntrospectResponse {
            active: true,
            token_id: Some(record.id.to_string()),
            name: Some(record.name.clone()),
            org: Some(record.org_id.to_string()),
            level: Some(record.reach.level().as_str().into()),
            project: record.reach.project().map(|p| p.to_string()),
            environment: record.reach.environment().map(|e| e.to_string()),
            scope: Some(record.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
            exp: record.expires_at.map(|at| at.unix_timestamp()),
            iat: Some(record.created_at.unix_timestamp()),
            token_type: Some("gatepass_deployment_token"),
        };
        serde_json::to_vec(&answer).expect("JSON").into()
    });
    Ok(super::json_body(body.clone()))
}
