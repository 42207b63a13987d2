//! Object identifiers: a type prefix and 20 random base62 characters.
//!
//! Random (not sequential) so they never reveal row counts; fixed-size and
//! `Copy` so passing them around never allocates.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::base62;

pub const RANDOM_LEN: usize = 20;
/// The length of an id with a four-character prefix (`tok_`, `prj_`…).
pub const ID_LEN: usize = 4 + RANDOM_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid {kind} id (expected {prefix} followed by {RANDOM_LEN} letters and digits)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub text: String,
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $prefix.len() + RANDOM_LEN]);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            const LEN: usize = $prefix.len() + RANDOM_LEN;
            const PREFIX_LEN: usize = $prefix.len();

            pub fn generate() -> Self {
                let mut bytes = [0u8; Self::LEN];
                bytes[..Self::PREFIX_LEN].copy_from_slice($prefix.as_bytes());
                base62::fill_random(&mut bytes[Self::PREFIX_LEN..]);
                Self(bytes)
            }

            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                let bytes = text.as_bytes();
                let valid = bytes.len() == Self::LEN
                    && text.starts_with($prefix)
                    && bytes[Self::PREFIX_LEN..].iter().all(|b| base62::is_base62(*b));
                if !valid {
                    return Err(InvalidId { kind: $kind, prefix: $prefix, text: text.chars().take(64).collect() });
                }
                let mut out = [0u8; Self::LEN];
                out.copy_from_slice(bytes);
                Ok(Self(out))
            }

            /// The random part alone (the prefix is implied by the type): for
            /// compact in-memory records.
            pub fn random_part(&self) -> [u8; RANDOM_LEN] {
                let mut random = [0u8; RANDOM_LEN];
                random.copy_from_slice(&self.0[Self::PREFIX_LEN..]);
                random
            }

            /// The id whose random part is `random`, as [`Self::random_part`] gave it.
            pub fn from_random_part(random: [u8; RANDOM_LEN]) -> Self {
                let mut bytes = [0u8; Self::LEN];
                bytes[..Self::PREFIX_LEN].copy_from_slice($prefix.as_bytes());
                bytes[Self::PREFIX_LEN..].copy_from_slice(&random);
                Self(bytes)
            }

            /// True when `text` has this id's prefix: callers use it to tell an
            /// id from a slug or name.
            pub fn looks_like(text: &str) -> bool {
                text.starts_with($prefix)
            }

            pub fn as_str(&self) -> &str {
                // Only ASCII is ever stored (see `generate` and `parse`).
                std::str::from_utf8(&self.0).expect("ids are ASCII")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(text: &str) -> Result<Self, InvalidId> {
                Self::parse(text)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(/// An organization (a "workspace").
    OrgId, "org_", "organization");
define_id!(/// A project (an "app").
    ProjectId, "prj_", "project");
define_id!(/// An environment of a project.
    EnvironmentId, "env_", "environment");
define_id!(/// A human user.
    UserId, "usr_", "user");
define_id!(/// A deployment token record (not its secret).
    TokenId, "tok_", "token");
define_id!(/// A deployment.
    DeploymentId, "dep_", "deployment");
define_id!(/// An audit event.
    EventId, "evt_", "audit event");
define_id!(/// A branch tracking rule.
    BranchRuleId, "brr_", "branch rule");
define_id!(/// An org's webhook endpoint.
    WebhookId, "wh_", "webhook");
define_id!(/// One event's delivery to one webhook (or deploy hook): the
    /// `webhook-id` receivers deduplicate on, the same on every retry.
    DeliveryId, "msg_", "delivery");
define_id!(/// A login session (the record, not its credential).
    SessionId, "ses_", "session");
define_id!(/// A trust policy: a CI identity that may trade its OIDC ID token for a token.
    TrustPolicyId, "tp_", "trust policy");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = TokenId::generate();
        assert_eq!(TokenId::parse(id.as_str()), Ok(id));
        assert!(id.as_str().starts_with("tok_"));
    }

    #[test]
    fn an_id_is_its_prefix_and_its_random_part() {
        let id = ProjectId::generate();
        assert_eq!(ProjectId::from_random_part(id.random_part()), id);
    }

    #[test]
    fn a_three_character_prefix_works_too() {
        let id = TrustPolicyId::generate();
        assert_eq!(id.as_str().len(), 3 + RANDOM_LEN);
        assert_eq!(TrustPolicyId::parse(id.as_str()), Ok(id));
        assert_eq!(TrustPolicyId::from_random_part(id.random_part()), id);
        assert!(TrustPolicyId::parse("tp_short").is_err());
    }

    #[test]
    fn ids_of_another_kind_are_rejected() {
        let id = ProjectId::generate();
        let err = TokenId::parse(id.as_str()).unwrap_err();
        assert!(err.to_string().contains("not a valid token id"));
    }
}
