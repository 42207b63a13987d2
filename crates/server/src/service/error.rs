//! What can go wrong in a service call. Plain domain errors: how each is
//! answered over HTTP is decided once, in [`crate::problem`].

use gatepass_core::access::Denied;
use gatepass_core::token::SaltError;
use gatepass_store::StoreError;

use crate::auth::secret_scanning::SignatureError;
use crate::verify::VerifyError;

/// Every error a service call (or a request extractor) can end in.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    /// A deployment state change the state machine does not allow.
    #[error(transparent)]
    IllegalTransition(#[from] gatepass_core::deployment::IllegalTransition),
    #[error("ref {git_ref:?} does not match any branch tracking rule of this project (rules: {rules})")]
    RefNotAllowed { git_ref: String, rules: String },
    #[error(transparent)]
    SaltUnavailable(#[from] SaltError),
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("a request may carry at most {limit} {what}; this one has {count}")]
    TooManyItems { what: &'static str, limit: usize, count: usize },
    /// A signed request (a secret scanning alert) whose signature does not hold.
    #[error(transparent)]
    SignatureRejected(SignatureError),
    /// The keys that check a signature cannot be had; nothing was done.
    #[error("{0}")]
    SigningKeysUnavailable(String),
    /// A valid token used from outside its allow list.
    #[error("this token may not be used from this address (it is outside the token's allowed_ips)")]
    IpNotAllowed,
    /// A token's expiry breaks its org's policy.
    #[error(transparent)]
    Policy(#[from] gatepass_core::policy::PolicyViolation),
    /// An attenuation asked for more than the parent token has.
    #[error(transparent)]
    Widening(#[from] gatepass_core::policy::Widening),
    #[error("a token may have at most {limit} live child tokens; revoke one first")]
    ChildLimit { limit: u32 },
    /// An OIDC ID token that mints nothing: the detail names the check
    /// that failed (`signature`, `issuer`, `audience`, `expired`, `claim
    /// \`repository\``, `replayed`, `no matching policy`).
    #[error("{0}")]
    OidcRejected(String),
    /// The ID token's issuer cannot be reached; nothing was minted.
    #[error("{0}")]
    OidcIssuerUnavailable(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    /// A bug or an impossible state; already logged with its context.
    #[error("internal error")]
    Internal,
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// Logs what failed, with its context, and answers a 500 that says nothing
    /// more: the one way an internal failure becomes an answer.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error while {context}");
        ServiceError::Internal
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(detail) => ServiceError::Conflict(detail),
            StoreError::PlanLimit { plan, limit } => ServiceError::PlanLimit { plan: plan.as_str(), limit },
            StoreError::ChildLimit { limit } => ServiceError::ChildLimit { limit },
            StoreError::Missing(what) => ServiceError::NotFound(what),
            StoreError::Backend(source) => {
                tracing::error!(error = %source, "database error");
                ServiceError::Unavailable
            }
            StoreError::Corrupt(what) => ServiceError::internal("reading a row", what),
        }
    }
}

impl From<Denied> for ServiceError {
    fn from(denied: Denied) -> Self {
        match denied {
            // Never confirm that something exists outside the caller's reach.
            Denied::OutOfReach => ServiceError::NotFound("resource"),
            other => ServiceError::Forbidden(other.to_string()),
        }
    }
}

/// The one mapping of a failed verification: every rejection is the same 401.
impl From<VerifyError> for ServiceError {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::Rejected(_) => ServiceError::Unauthorized,
            VerifyError::IpNotAllowed(_) => ServiceError::IpNotAllowed,
            VerifyError::Salt(err) => ServiceError::SaltUnavailable(err),
            VerifyError::Store(err) => err.into(),
        }
    }
}

impl From<SignatureError> for ServiceError {
    fn from(err: SignatureError) -> Self {
        match err {
            SignatureError::KeysUnavailable { .. } => ServiceError::SigningKeysUnavailable(err.to_string()),
            rejected => ServiceError::SignatureRejected(rejected),
        }
    }
}

/// Turns any displayable validation error into a 422.
pub fn invalid(err: impl std::fmt::Display) -> ServiceError {
    ServiceError::Invalid(err.to_string())
}

/// Runs blocking work (argon2) off the async workers; a panic in it is an
/// internal error, logged with `context`.
pub async fn blocking<T: Send + 'static>(
    context: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|err| ServiceError::internal(context, err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::RejectReason;

    #[test]
    fn out_of_reach_looks_like_not_found() {
        assert!(matches!(ServiceError::from(Denied::OutOfReach), ServiceError::NotFound(_)));
    }

    #[test]
    fn every_rejected_verification_is_the_same_unauthorized() {
        assert!(matches!(ServiceError::from(VerifyError::Rejected(RejectReason::Unknown)), ServiceError::Unauthorized));
    }
}
