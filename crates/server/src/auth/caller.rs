//! The `Caller` extractor: authenticates the bearer credential of a request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use gatepass_core::access::{Principal, TokenGrant, UserGrant};
use gatepass_store::{Actor, StoreError, User};
use time::OffsetDateTime;

use super::session;
use crate::error::ApiError;
use crate::metrics::bump;
use crate::state::AppState;
use crate::verify::{VerifiedToken, VerifyError};

/// An authenticated request's principal, with what handlers need to audit it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client_ip: IpAddr,
    /// The verified token, when the caller used one.
    pub token: Option<Arc<VerifiedToken>>,
    /// The user, when the caller used a login session.
    pub user: Option<User>,
}

impl Caller {
    /// Who to name in audit events and `created_by`. Built on demand, so the
    /// verify path allocates nothing for it.
    pub fn actor(&self) -> Actor {
        match (&self.token, &self.user) {
            (Some(token), _) => Actor::token(token.id, &token.name),
            (None, Some(user)) => Actor::user(user.id, &user.email),
            (None, None) => Actor::system(),
        }
    }
}

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
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientIp::from_parts(parts, state.config.trust_forwarded_for))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientIp(client_ip) = ClientIp::from_parts(parts, state.config.trust_forwarded_for);
        let now = state.clock.now();
        if let Err(retry_after_secs) = state.limiter.check(client_ip, now) {
            bump(&state.metrics.verify_rate_limited);
            return Err(ApiError::RateLimited { retry_after_secs });
        }
        let Some(credential) = bearer(&parts.headers) else {
            // No credential at all is not an attack; do not count it.
            return Err(ApiError::Unauthorized);
        };
        let outcome = if session::is_session_credential(credential) {
            authenticate_session(state, credential).await
        } else {
            authenticate_token(state, credential, now).await
        };
        match outcome {
            Ok(mut caller) => {
                caller.client_ip = client_ip;
                Ok(caller)
            }
            Err(ApiError::Unauthorized) => {
                state.limiter.record_failure(client_ip, now);
                Err(ApiError::Unauthorized)
            }
            Err(other) => Err(other),
        }
    }
}

async fn authenticate_token(state: &AppState, credential: &str, now: OffsetDateTime) -> Result<Caller, ApiError> {
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
                client_ip: IpAddr::from([0, 0, 0, 0]),
                token: Some(record),
                user: None,
            })
        }
        Err(VerifyError::Rejected) => {
            bump(&state.metrics.verify_rejected);
            Err(ApiError::Unauthorized)
        }
        Err(VerifyError::Salt(err)) => Err(ApiError::SaltUnavailable(err)),
        Err(VerifyError::Store(err)) => Err(err.into()),
    }
}

/// Loads the user behind a session credential, with their org roles.
pub async fn user_for_session(state: &AppState, credential: &str) -> Result<Option<(User, UserGrant)>, StoreError> {
    let digest = session::credential_digest(credential);
    let Some(session) = state.store.find_session(&digest, state.clock.now()).await? else {
        return Ok(None);
    };
    let Some(user) = state.store.find_user(session.user_id).await? else {
        return Ok(None);
    };
    let memberships = state.store.memberships(user.id).await?;
    let grant = UserGrant {
        user_id: user.id,
        instance_admin: user.instance_admin,
        memberships: memberships.into_iter().map(|(org, role)| (org.id, role)).collect(),
    };
    Ok(Some((user, grant)))
}

async fn authenticate_session(state: &AppState, credential: &str) -> Result<Caller, ApiError> {
    let (user, grant) = user_for_session(state, credential).await?.ok_or(ApiError::Unauthorized)?;
    Ok(Caller {
        principal: Principal::User(grant),
        client_ip: IpAddr::from([0, 0, 0, 0]),
        token: None,
        user: Some(user),
    })
}
