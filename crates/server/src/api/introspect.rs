//! `POST /v1/introspect`: RFC 7662-style checks for internal services that
//! accept deployment tokens. Needs an org `admin` credential; only tokens of
//! the caller's own orgs are ever reported active.
//!
//! The body is JSON or, as RFC 7662 has it, a form (`token=…`); either is
//! parsed in place, borrowing the token from the request bytes.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{parse_form, parse_json, MediaType, RawBody};
use crate::auth::refuse;
use crate::metrics::AuthFailure;
use crate::problem::Problem;
use crate::service::{Caller, ServiceError, ServiceResult};
use crate::state::AppState;
use crate::verify::{RejectReason, VerifyError};
use gatepass_store::TokenRecord;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest<'a> {
    /// The token to check.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub token: Cow<'a, str>,
    /// Accepted for RFC 7662 compatibility; ignored.
    #[allow(dead_code)]
    #[serde(borrow)]
    #[schema(value_type = Option<String>)]
    pub token_type_hint: Option<Cow<'a, str>>,
}

impl<'a> IntrospectRequest<'a> {
    fn parse(body: &'a RawBody) -> ServiceResult<Self> {
        match body.media_type {
            MediaType::Json => parse_json(&body.bytes),
            MediaType::Form => parse_form(&body.bytes),
            MediaType::Other => Err(ServiceError::BadRequest(
                "send the body as JSON (Content-Type: application/json) or as a form \
                 (Content-Type: application/x-www-form-urlencoded, as RFC 7662 has it)"
                    .into(),
            )),
        }
    }
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
    /// The CIDR ranges the token may be used from; absent for anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
    /// The token it was attenuated from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Is this token active, and what may it do?
#[utoipa::path(post, path = "/v1/introspect", tag = "tokens",
    request_body(content(
        (IntrospectRequest = "application/json"),
        (IntrospectRequest = "application/x-www-form-urlencoded"),
    )),
    responses((status = 200, body = IntrospectResponse),
        (status = 403, description = "Not an org admin credential", body = Problem),
        (status = 429, description = "Too many failed attempts from this address; see Retry-After", body = Problem)))]
pub async fn introspect(
    State(state): State<AppState>,
    caller: Caller,
    body: RawBody,
) -> ServiceResult<axum::response::Response> {
    let request = IntrospectRequest::parse(&body)?;
    caller.principal.may_introspect()?;
    let now = state.clock.now();
    // An inactive answer counts as a failed attempt: introspection must not
    // become a way around the failed-auth limit, and past it one gets 429.
    let inactive = |reason| {
        let standing = state.limiter.standing(caller.client_ip, now);
        match refuse(&state, caller.client_ip, now, standing, AuthFailure::Token(reason)) {
            ServiceError::Unauthorized => Ok(axum::Json(IntrospectResponse::default()).into_response()),
            limited => Err(limited),
        }
    };
    // Presented to be described, not used: its allow list does not apply.
    let token = match state.verifier.verify(&request.token, None, now).await {
        Ok(token) => token,
        Err(VerifyError::Rejected(reason)) => return inactive(reason),
        Err(err) => return Err(err.into()),
    };
    if !caller.principal.may_introspect_token_of(token.org_id) {
        return inactive(RejectReason::Unknown);
    }
    let Some(answers) = state.verifier.answers(&token).await? else {
        return inactive(RejectReason::Unknown);
    };
    let body = match answers.introspection.get() {
        Some(body) => body.clone(),
        None => answers.introspection.get_or_init(|| active_answer(&answers.record)).clone(),
    };
    Ok(super::json_body(body))
}

/// The answer for an active token, rendered once per cached record.
fn active_answer(record: &TokenRecord) -> Bytes {
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
        allowed_ips: record
            .allowed_ips
            .is_restricted()
            .then(|| record.allowed_ips.nets().iter().map(ToString::to_string).collect()),
        parent: record.parent_id.map(|parent| parent.to_string()),
    };
    match serde_json::to_vec(&answer) {
        Ok(json) => json.into(),
        Err(err) => {
            // Serializing plain strings and numbers cannot fail; if it ever
            // did, answer "inactive" rather than panic.
            tracing::error!(error = %err, "cannot render an introspection answer");
            Bytes::from_static(b"{\"active\":false}")
        }
    }
}
