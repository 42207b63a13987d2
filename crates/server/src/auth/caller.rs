//! Authenticating a request's bearer credential into a [`Caller`].
//!
//! Valid credentials are never refused because of other requests'
//! failures. Only a failing credential from an address that has failed too
//! often gets 429. While an address is limited, a token is decided from the
//! verify cache where it can be (a known-bad token costs no database read),
//! and a cache miss or a session costs one read at most, never an argon2 run.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use gatepass_core::access::{Principal, TokenGrant};
use time::OffsetDateTime;

use super::expiry_notice::ExpirySlot;
use super::session;
use super::ClientIp;
use crate::metrics::{bump, AuthFailure};
use crate::rate_limit::Standing;
use crate::service::{sessions, token_policy, Caller, ServiceError};
use crate::state::AppState;
use crate::verify::{CachedVerdict, VerifiedToken, VerifyError};

/// The credential of an `Authorization: Bearer …` header. Read as bytes:
/// what follows checks a credential's every character anyway.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|&byte| byte == b' ')?;
    let (scheme, credential) = (&value[..space], &value[space + 1..]);
    scheme.eq_ignore_ascii_case(b"bearer").then(|| std::str::from_utf8(credential.trim_ascii()).ok())?
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let ClientIp(client_ip) = ClientIp::from_parts(parts, &state.config);
        let Some(credential) = bearer(&parts.headers) else {
            // No credential at all is not an attack; do not count it.
            return Err(ServiceError::Unauthorized);
        };
        let now = state.clock.now();
        let standing = state.limiter.standing(client_ip, now);
        let outcome = if session::is_session_credential(credential) {
            // Boxed, like the allow-list path below: rarer paths' state is
            // kept apart from the common path's future.
            Box::pin(authenticate_session(state, credential, client_ip)).await
        } else {
            let caller = authenticate_token(state, credential, client_ip, now, standing).await;
            if let (Ok(caller), Some(slot)) = (&caller, parts.extensions.get::<ExpirySlot>()) {
                slot.note(caller.token.as_ref().and_then(|token| token.expires_at), now);
            }
            caller
        };
        match outcome {
            Ok(caller) => Ok(caller),
            Err(Failure::Credential(reason)) => Err(refuse(state, client_ip, now, standing, reason)),
            Err(Failure::Service(err)) => Err(err),
        }
    }
}

/// How authenticating one credential failed.
enum Failure {
    /// The credential is not valid.
    Credential(AuthFailure),
    Service(ServiceError),
}

impl From<ServiceError> for Failure {
    fn from(err: ServiceError) -> Self {
        Failure::Service(err)
    }
}

/// Counts a failed credential and answers it: 401, or 429 once its address
/// had already failed too often.
pub fn refuse(
    state: &AppState,
    client_ip: IpAddr,
    now: OffsetDateTime,
    standing: Standing,
    reason: AuthFailure,
) -> ServiceError {
    state.metrics.auth_failure(reason);
    state.limiter.record_failure(client_ip, now);
    match standing {
        Standing::Clear => ServiceError::Unauthorized,
        Standing::Limited { retry_after_secs } => {
            bump(&state.metrics.auth_rate_limited);
            ServiceError::RateLimited { retry_after_secs }
        }
    }
}

async fn authenticate_token(
    state: &AppState,
    credential: &str,
    client_ip: IpAddr,
    now: OffsetDateTime,
    standing: Standing,
) -> Result<Caller, Failure> {
    let from = Some(client_ip);
    let verified = match standing {
        Standing::Clear => state.verifier.verify(credential, from, now).await,
        // Only what the cache cannot decide costs its one read.
        Standing::Limited { .. } => match state.verifier.verify_cached(credential, from, now) {
            Ok(CachedVerdict::Valid(record)) => Ok(record),
            Ok(CachedVerdict::Rejected(reason)) => Err(VerifyError::Rejected(reason)),
            Ok(CachedVerdict::IpNotAllowed(record)) => Err(VerifyError::IpNotAllowed(record)),
            Ok(CachedVerdict::Unknown) => state.verifier.verify(credential, from, now).await,
            Err(err) => Err(err),
        },
    };
    match verified {
        Ok(record) => {
            state.metrics.verify_ok.bump();
            Ok(token_caller(record, client_ip))
        }
        Err(VerifyError::Rejected(reason)) => {
            bump(&state.metrics.verify_rejected);
            Err(Failure::Credential(AuthFailure::Token(reason)))
        }
        // A valid credential: not a failure that counts towards 429.
        Err(VerifyError::IpNotAllowed(token)) => {
            bump(&state.metrics.ip_not_allowed);
            Box::pin(token_policy::ip_denied(state, &token, client_ip, now)).await;
            Err(Failure::Service(ServiceError::IpNotAllowed))
        }
        Err(err) => Err(Failure::Service(err.into())),
    }
}

fn token_caller(token: VerifiedToken, client_ip: IpAddr) -> Caller {
    Caller {
        principal: Principal::Token(TokenGrant {
            token_id: token.id,
            org_id: token.org_id,
            reach: token.reach,
            scopes: token.scopes,
        }),
        client_ip,
        token: Some(token),
        user: None,
    }
}

/// One read decides whether the session exists; only a real one costs the
/// reads that load its user.
async fn authenticate_session(state: &AppState, credential: &str, client_ip: IpAddr) -> Result<Caller, Failure> {
    let session = sessions::find(state, credential).await?.ok_or(Failure::Credential(AuthFailure::Session))?;
    let (user, grant) = sessions::user_of(state, &session).await?.ok_or(Failure::Credential(AuthFailure::Session))?;
    Ok(Caller { principal: Principal::User(grant), client_ip, token: None, user: Some(user) })
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderMap, HeaderValue};

    use super::bearer;

    fn credential_of(value: &[u8]) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        bearer(&headers).map(str::to_owned)
    }

    #[test]
    fn a_bearer_credential_is_read_whatever_the_schemes_case_and_the_spaces_around_it() {
        assert_eq!(credential_of(b"Bearer gpd_abc").as_deref(), Some("gpd_abc"));
        assert_eq!(credential_of(b"bEARER   gpd_abc \t").as_deref(), Some("gpd_abc"));
        assert_eq!(credential_of(b"Basic dXNlcjpwYXNz"), None);
        assert_eq!(credential_of(b"Bearer"), None);
        assert_eq!(credential_of(b"Bearer \xff\xfe"), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
