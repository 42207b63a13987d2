//! The verify path: parse → checksum → digest → cache or lookup → status and
//! grace. The scope check happens in `gatepass_core::access`, once the caller
//! knows what the request wants to do.
//!
//! Verified records are cached per node by digest, so a hot token costs no
//! database round trip. Correctness under revocation:
//! - this node forgets a token as soon as it rotates, revokes or deletes it;
//! - other nodes hear of it through the store's change feed (PostgreSQL
//!   LISTEN/NOTIFY) and forget it too;
//! - and no entry is trusted for longer than [`MAX_ENTRY_AGE`], which bounds
//!   staleness even when a notification is lost.
//!
//! A hot entry is renewed by one request once it is [`REFRESH_AFTER`] old,
//! and concurrent misses on one digest share a single database read, so a
//! token's traffic never stampedes the database.
//!
//! Digests that match no token are remembered for the same time, so a
//! well-formed but unknown token is rejected without a database read. That is
//! safe: a token's digest cannot be presented before the token exists, short
//! of guessing 178 random bits, so no new token is ever hidden by it.
//!
//! An entry also keeps the JSON answers rendered from its record (whoami,
//! introspection), so a hot token's answer is serialized once per entry.

mod cache;
mod verifier;

use gatepass_core::token::SaltError;
use gatepass_store::StoreError;

pub use cache::{VerifyCache, MAX_ENTRY_AGE, REFRESH_AFTER};
pub use verifier::{spawn_change_listener, CachedVerdict, TokenVerifier, VerifiedToken};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No usable salt: the server cannot tell valid tokens from invalid ones.
    #[error(transparent)]
    Salt(#[from] SaltError),
    /// Malformed, unknown, expired or revoked: one answer to the client
    /// (every 401 looks the same); the reason is only for metrics.
    #[error("invalid token")]
    Rejected(RejectReason),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a token was rejected: counted in metrics, never told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Wrong prefix, length, alphabet or checksum: rejected offline.
    Malformed,
    /// No token has this digest.
    Unknown,
    Revoked,
    Expired,
    /// The secret a rotation replaced, after its grace period.
    Superseded,
}

impl RejectReason {
    pub const ALL: [RejectReason; 5] = [
        RejectReason::Malformed,
        RejectReason::Unknown,
        RejectReason::Revoked,
        RejectReason::Expired,
        RejectReason::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Unknown => "unknown",
            RejectReason::Revoked => "revoked",
            RejectReason::Expired => "expired",
            RejectReason::Superseded => "superseded",
        }
    }
}
