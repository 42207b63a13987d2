//! Who a service call acts for: the authenticated principal, with what audit
//! events need to name it.

use std::net::IpAddr;

use gatepass_core::access::Principal;
use gatepass_store::{Actor, User};

use crate::state::AppState;
use crate::verify::VerifiedToken;

#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client_ip: IpAddr,
    /// The verified token, when the caller used one.
    pub token: Option<VerifiedToken>,
    /// The user, when the caller used a login session.
    pub user: Option<User>,
}

impl Caller {
    /// Who to name in audit events and `created_by`. Built on demand, so the
    /// verify path does nothing for it; a token's name comes from the
    /// verifier's answer cache.
    pub async fn actor(&self, state: &AppState) -> Actor {
        match (&self.token, &self.user) {
            (Some(token), _) => token_actor(state, token).await,
            (None, Some(user)) => Actor::user(user.id, &user.email),
            (None, None) => Actor::system(),
        }
    }
}

/// A verified token as an actor, named from the verifier's answer cache.
pub async fn token_actor(state: &AppState, token: &VerifiedToken) -> Actor {
    match state.verifier.answers(token).await {
        Ok(Some(answers)) => Actor::token(token.id, &answers.record.name),
        _ => Actor { id: token.id.to_string(), label: format!("token {}", token.id) },
    }
}
