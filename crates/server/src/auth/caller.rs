//! Authenticating a request's bearer credential into a [`Caller`], and the
//! client address it came from.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use gatepass_core::access::{Principal, TokenGrant};
use time::OffsetDateTime;

use super::session;
use crate::metrics::bump;
use crate::service::{sessions, Caller, ServiceError};
use crate::state::AppState;
use crate::verify::VerifyError;

/// The client's address: the peer, or `X-Forwarded-For` when configured.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> Self {
        if trust_forwarded_for {
            if let Some(ip) = forwarded_for(&parts.headers) {
                return ClientIp(ip);
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        ClientIp(peer.unwrap_or(IpAddr::from([127, 0, 0, 1])))
    }
}

fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get("x-forwarded-for")?.to_str().ok()?;
    value.split(',').next()?.trim().parse().ok()
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        Ok(ClientIp::from_parts(parts, state.config.trust_forwarded_for))
    }
}

/// The credential of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let ClientIp(client_ip) = ClientIp::from_parts(parts, state.config.trust_forwarded_for);
        let now = state.clock.now();
        if let Err(retry_after_secs) = state.limiter.check(client_ip, now) {
            bump(&state.metrics.verify_rate_limited);
            return Err(ServiceError::RateLimited { retry_after_secs });
        }
        let Some(credential) = bearer(&parts.headers) else {
            // No credential at all is not an attack; do not count it.
            return Err(ServiceError::Unauthorized);
        };
        let outcome = if session::is_session_credential(credential) {
            authenticate_session(state, credential, client_ip).await
        } else {
            authenticate_token(state, credential, client_ip, now).await
        };
        if let Err(ServiceError::Unauthorized) = outcome {
            state.limiter.record_failure(client_ip, now);
        }
        outcome
    }
}

async fn authenticate_token(
    state: &AppState,
    credential: &str,
    client_ip: IpAddr,
    now: OffsetDateTime,
) -> Result<Caller, ServiceError> {
    match state.verifier.verify(credential, now).await {
        Ok(record) => {
            bump(&state.metrics.verify_ok);
            Ok(Caller {
                principal: Principal::Token(TokenGrant {
                    token_id: record.id,
                    org_id: record.org_id,
                    reach: record.reach,
                    scopes: record.scopes,
                }),
                client_ip,
                token: Some(record),
                user: None,
            })
        }
        Err(err) => {
            if matches!(err, VerifyError::Rejected) {
                bump(&state.metrics.verify_rejected);
            }
            Err(err.into())
        }
    }
}

async fn authenticate_session(state: &AppState, credential: &str, client_ip: IpAddr) -> Result<Caller, ServiceError> {
    let (user, grant) = sessions::user_for(state, credential).await?.ok_or(ServiceError::Unauthorized)?;
    Ok(Caller { principal: Principal::User(grant), client_ip, token: None, user: Some(user) })
}
