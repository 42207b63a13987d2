//! Roles of users in an organization.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::scope::{Scope, Scopes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// What a session of a user with this role may do in the org.
    pub fn scopes(self) -> Scopes {
        match self {
            Role::Owner | Role::Admin => Scopes::all(),
            Role::Member => [Scope::Deploy, Scope::Read].into_iter().collect(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
