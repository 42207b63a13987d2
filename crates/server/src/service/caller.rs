//! Who a service call acts for: the authenticated principal, with what audit
//! events need to name it.

use std::net::IpAddr;
use std::sync::Arc;

use gatepass_core::access::Principal;
use gatepass_store::{Actor, User};

use crate::verify::VerifiedToken;

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
