//! The verify path: parse → checksum → digest → cache or lookup → status and
//! grace. The scope check happens in `gatepass_core::access`, once the caller
//! knows what the request wants to do.
//!
//! - [`cache`]: verdicts by digest, compact and bounded, never aged out;
//! - [`answers`]: full records and rendered answers of tokens in use;
//! - [`coherence`]: following the token change log on a shared database, so
//!   both stay exact;
//! - [`verifier`]: the path itself, with the allow-list check and the
//!   retry under a previous salt during a salt rotation.
//!
//! Correctness under revocation: the node that revokes, rotates or deletes a
//! token drops it at once; every other node drops it when it reads the
//! change log (woken by NOTIFY, and at least every 250 ms), and stops
//! trusting its cache altogether if it cannot read the log for 750 ms. So a
//! revocation is refused on the next request on its node and within about
//! 250 ms (never more than 1 s) on every other, even when a NOTIFY is lost.
//!
//! Digests that match no token are cached too, so a well-formed but unknown
//! token is rejected without a database read. That is safe: a token's digest
//! cannot be presented before the token exists, short of guessing 178
//! random bits, and every digest a change introduces is named in the log.

pub mod answers;
pub mod cache;
pub mod coherence;
mod coherent;
mod verifier;

use gatepass_core::token::SaltError;
use gatepass_store::StoreError;

pub use cache::{Trust, VerifiedToken, VerifyCache};
pub use verifier::{CacheSizes, CachedVerdict, TokenVerifier};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No usable salt: the server cannot tell valid tokens from invalid ones.
    #[error(transparent)]
    Salt(#[from] SaltError),
    /// Malformed, unknown, expired or revoked: one answer to the client
    /// (every 401 looks the same); the reason is only for metrics.
    #[error("invalid token")]
    Rejected(RejectReason),
    /// A valid token used from outside its allow list: 403, after the
    /// token is known to be valid (anything less is the same 401).
    #[error("the token may not be used from this address")]
    IpNotAllowed(Box<VerifiedToken>),
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
