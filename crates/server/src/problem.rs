//! The one mapping from errors to HTTP: RFC 9457 problem+json with a stable
//! `type`, for the API; the dashboard shows the same status, title and detail
//! as a page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The problem+json body (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem, e.g. `urn:gatepass:problem:plan-limit`.
    #[serde(rename = "type")]
    #[schema(example = "urn:gatepass:problem:not-found")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    /// What happened and what to do, for people.
    pub detail: String,
    /// On `token-policy` problems: the org policy broken,
    /// `max_token_lifetime` or `require_expiry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "max_token_lifetime")]
    pub policy: Option<&'static str>,
    /// On `token-policy` problems: the longest lifetime the org allows
    /// (`90d`), when it caps lifetimes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "90d")]
    pub max_token_lifetime: Option<String>,
    /// On `attenuation-widens` problems: the request field that asked for
    /// more than the parent token has.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "scopes")]
    pub field: Option<&'static str>,
}

impl ServiceError {
    fn status_and_kind(&self) -> (StatusCode, &'static str, &'static str) {
        use ServiceError::*;
        match self {
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-value", "Invalid value"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            PlanLimit { .. } => (StatusCode::CONFLICT, "plan-limit", "Plan limit reached"),
            IllegalTransition(_) => (StatusCode::CONFLICT, "illegal-transition", "Illegal state transition"),
            RefNotAllowed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "ref-not-allowed", "Ref not allowed"),
            SaltUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "token-salt-not-configured", "Token salt not configured")
            }
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            PayloadTooLarge | TooManyItems { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            }
            SignatureRejected(_) => (StatusCode::UNAUTHORIZED, "signature-rejected", "Signature rejected"),
            SigningKeysUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "secret-scanning-keys-unavailable",
                "Secret scanning keys unavailable",
            ),
            IpNotAllowed => (StatusCode::FORBIDDEN, "ip-not-allowed", "IP address not allowed"),
            Policy(_) => (StatusCode::UNPROCESSABLE_ENTITY, "token-policy", "Token policy violated"),
            Widening(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "attenuation-widens", "Child token wider than its parent")
            }
            ChildLimit { .. } => (StatusCode::CONFLICT, "child-limit", "Child token limit reached"),
            OidcRejected(_) => (StatusCode::UNAUTHORIZED, "oidc-rejected", "OIDC token rejected"),
            OidcIssuerUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "oidc-issuer-unavailable", "OIDC issuer unavailable")
            }
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.status_and_kind();
        let (policy, max_token_lifetime) = match self {
            ServiceError::Policy(violation) => {
                (Some(violation.policy()), violation.max_lifetime().map(gatepass_core::policy::format_lifetime))
            }
            _ => (None, None),
        };
        Problem {
            kind: format!("urn:gatepass:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            policy,
            max_token_lifetime,
            field: match self {
                ServiceError::Widening(widening) => Some(widening.field()),
                _ => None,
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_kind().0
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        // The 401 is the answer to every bad credential: rendered once.
        static UNAUTHORIZED: std::sync::LazyLock<axum::body::Bytes> = std::sync::LazyLock::new(|| {
            serde_json::to_vec(&ServiceError::Unauthorized.problem()).unwrap_or_default().into()
        });
        let body = match self {
            ServiceError::Unauthorized => UNAUTHORIZED.clone(),
            _ => serde_json::to_vec(&self.problem()).unwrap_or_default().into(),
        };
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        match self {
            ServiceError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatepass\""));
            }
            ServiceError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_a_stable_type_and_the_status() {
        let problem = ServiceError::PlanLimit { plan: "free", limit: 5 }.problem();
        assert_eq!(problem.kind, "urn:gatepass:problem:plan-limit");
        assert_eq!(problem.status, 409);
        assert_eq!(problem.detail, "plan \"free\" allows 5 active tokens; revoke one or upgrade the plan");
    }

    #[test]
    fn out_of_reach_is_answered_as_not_found() {
        let err = ServiceError::from(gatepass_core::access::Denied::OutOfReach);
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }
}
