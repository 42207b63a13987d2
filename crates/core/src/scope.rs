//! Scopes: what a credential may do (Deplo's table).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Create deployments.
    Deploy,
    /// List projects, environments, deployments and token metadata.
    Read,
    /// Archive deployments and delete projects.
    Delete,
    /// Everything, including members and token management.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Deploy, Scope::Read, Scope::Delete, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Deploy => "deploy",
            Scope::Read => "read",
            Scope::Delete => "delete",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text.trim())
            .ok_or_else(|| UnknownScope(text.trim().chars().take(40).collect()))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?} (known scopes: deploy, read, delete, admin)")]
pub struct UnknownScope(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopesError {
    #[error(transparent)]
    Unknown(#[from] UnknownScope),
    #[error("at least one scope is required (deploy, read, delete, admin)")]
    Empty,
}

/// A set of scopes, held as a bitmask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    pub fn all() -> Self {
        Self::from_iter(Scope::ALL)
    }

    pub fn only(scope: Scope) -> Self {
        Scopes(scope.bit())
    }

    /// Whether these scopes allow `scope`; `admin` allows everything.
    pub fn allows(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// Whether a credential holding `self` may hand out `requested`: every
    /// requested scope must be allowed by ours (no escalation).
    pub fn covers(self, requested: Scopes) -> bool {
        requested.iter().all(|scope| self.allows(scope))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.0 & scope.bit() != 0)
    }

    /// Parses a comma-separated list such as `deploy,read`.
    pub fn parse_list(text: &str) -> Result<Self, ScopesError> {
        Self::parse_each(text.split(',').filter(|part| !part.trim().is_empty()))
    }

    pub fn parse_each<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopesError> {
        let mut scopes = Scopes::NONE;
        for item in items {
            scopes.0 |= Scope::parse(item)?.bit();
        }
        if scopes.is_empty() {
            return Err(ScopesError::Empty);
        }
        Ok(scopes)
    }

    /// The storage form: `deploy,read`.
    pub fn to_list_string(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(deserializer)?;
        Scopes::parse_each(items.iter().map(String::as_str)).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_every_scope() {
        let admin = Scopes::only(Scope::Admin);
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        assert!(admin.covers(Scopes::all()));
    }

    #[test]
    fn deploy_does_not_cover_read() {
        let deploy = Scopes::only(Scope::Deploy);
        assert!(!deploy.allows(Scope::Read));
        assert!(!deploy.covers(Scopes::parse_list("deploy,read").unwrap()));
        assert!(deploy.covers(Scopes::only(Scope::Deploy)));
    }

    #[test]
    fn lists_parse_and_print_in_canonical_order() {
        let scopes = Scopes::parse_list("read, deploy").unwrap();
        assert_eq!(scopes.to_list_string(), "deploy,read");
        assert_eq!(Scopes::parse_list("").unwrap_err(), ScopesError::Empty);
        let err = Scopes::parse_list("deploy,root").unwrap_err();
        assert_eq!(err.to_string(), "unknown scope \"root\" (known scopes: deploy, read, delete, admin)");
    }
}
