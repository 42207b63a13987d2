//! The one mapping from errors to HTTP: RFC 9457 problem+json with a stable `type`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatepass_core::access::Denied;
use gatepass_core::token::SaltError;
use gatepass_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Every error an API handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read: bad JSON, wrong types, unknown fields.
    #[error("{0}")]
    BadRequest(String),
    /// The request was read, but a value in it is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Missing, malformed, unknown, expired or revoked credential: all look alike.
    #[error("missing or invalid credential")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("plan {plan:?} allows {limit} active tokens; revoke one or upgrade the plan")]
    PlanLimit { plan: &'static str, limit: u32 },
    #[error("ref {git_ref:?} does not match any branch tracking rule of this project (rules: {rules})")]
    RefNotAllowed { git_ref: String, rules: String },
    #[error(transparent)]
    SaltUnavailable(#[from] SaltError),
    #[error("too many failed attempts from this address; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

/// The problem+json body (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem, e.g. `urn:gatepass:problem:plan-limit`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    /// What happened and what to do, for people.
    pub detail: String,
}

impl ApiError {
    fn status_and_kind(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-value", "Invalid value"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            PlanLimit { .. } => (StatusCode::CONFLICT, "plan-limit", "Plan limit reached"),
            RefNotAllowed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "ref-not-allowed", "Ref not allowed"),
            SaltUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "token-salt-not-configured", "Token salt not configured")
            }
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.status_and_kind();
        Problem {
            kind: format!("urn:gatepass:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_kind().0
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The 401 is the answer to every bad credential: rendered once.
        static UNAUTHORIZED: std::sync::LazyLock<axum::body::Bytes> = std::sync::LazyLock::new(|| {
            serde_json::to_vec(&ApiError::Unauthorized.problem()).unwrap_or_default().into()
        });
        let body = match self {
            ApiError::Unauthorized => UNAUTHORIZED.clone(),
            _ => serde_json::to_vec(&self.problem()).unwrap_or_default().into(),
        };
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatepass\""));
            }
            ApiError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::PlanLimit { plan, limit } => ApiError::PlanLimit { plan: plan.as_str(), limit },
            StoreError::Missing(what) => ApiError::NotFound(what),
            StoreError::Backend(source) => {
                tracing::error!(error = %source, "database error");
                ApiError::Unavailable
            }
            StoreError::Corrupt(what) => {
                tracing::error!(%what, "corrupt row");
                ApiError::Internal
            }
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            // Never confirm that something exists outside the caller's reach.
            Denied::OutOfReach => ApiError::NotFound("resource"),
            other => ApiError::Forbidden(other.to_string()),
        }
    }
}

/// Turns any displayable validation error into a 422.
pub fn invalid(err: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(err.to_string())
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_a_stable_type_and_the_status() {
        let problem = ApiError::PlanLimit { plan: "free", limit: 5 }.problem();
        assert_eq!(problem.kind, "urn:gatepass:problem:plan-limit");
        assert_eq!(problem.status, 409);
        assert_eq!(problem.detail, "plan \"free\" allows 5 active tokens; revoke one or upgrade the plan");
    }

    #[test]
    fn out_of_reach_looks_like_not_found() {
        assert_eq!(ApiError::from(Denied::OutOfReach).status(), StatusCode::NOT_FOUND);
    }
}
