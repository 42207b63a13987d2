//! Keyed digests: what the database stores instead of the token.
//!
//! `HMAC-SHA256(key = ML_DEPLOYMENT_TOKEN_SALT, msg = token)`. Tokens carry
//! 178 bits of randomness, so a fast keyed hash is the right tool (GitHub and
//! crates-io do the same); a slow password hash would only slow down verify.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const SALT_ENV: &str = "ML_DEPLOYMENT_TOKEN_SALT";
pub const SALT_FILE_ENV: &str = "ML_DEPLOYMENT_TOKEN_SALT_FILE";
pub const SALT_MIN_LEN: usize = 32;
/// The salt being rotated away from: digests it made still verify, and are
/// re-made under the current salt on their first use.
pub const SALT_PREVIOUS_ENV: &str = "ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS";
pub const SALT_PREVIOUS_FILE_ENV: &str = "ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS_FILE";

/// Why token generation and verification are disabled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaltError {
    #[error("{SALT_ENV} is not set: token generation is disabled until it is configured (set {SALT_ENV} or {SALT_FILE_ENV} to at least {SALT_MIN_LEN} random bytes, e.g. `openssl rand -base64 48`)")]
    Missing,
    #[error("{SALT_FILE_ENV} points to {path:?}, which cannot be read ({reason}): token generation is disabled until it is fixed")]
    Unreadable { path: String, reason: String },
    #[error("{SALT_ENV} is only {len} bytes long: token generation is disabled until it is at least {SALT_MIN_LEN} bytes (e.g. `openssl rand -base64 48`)")]
    TooShort { len: usize },
}

/// The server-wide HMAC key. Cloning the prepared MAC per digest skips the
/// key schedule on the verify path.
#[derive(Clone)]
pub struct TokenSalt {
    keyed: HmacSha256,
}

impl TokenSalt {
    pub fn new(secret: &[u8]) -> Result<Self, SaltError> {
        if secret.len() < SALT_MIN_LEN {
            return Err(SaltError::TooShort { len: secret.len() });
        }
        let keyed = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        Ok(Self { keyed })
    }

    pub fn digest(&self, token: &str) -> TokenDigest {
        let mut mac = self.keyed.clone();
        mac.update(token.as_bytes());
        TokenDigest(mac.finalize().into_bytes().into())
    }

    /// A stable, non-reversible name for this salt, stored so that a changed
    /// salt (which silently invalidates every token) is noticed at start.
    pub fn fingerprint(&self) -> String {
        let digest = self.digest("gatepass salt fingerprint v1");
        digest.0[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for TokenSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSalt(<redacted>)")
    }
}

/// What the database stores and indexes instead of a token.
#[derive(Clone, Copy, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Constant-time, so that timing never tells how much of a digest matched:
/// the words' differences are OR-ed together without branching, and only
/// the total is compared (once, behind `subtle`'s optimisation barrier).
/// A byte-wise `ct_eq` costs a barrier per byte on the verify path.
impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        let difference = self
            .0
            .chunks_exact(8)
            .zip(other.0.chunks_exact(8))
            .map(|(a, b)| word(a) ^ word(b))
            .fold(0u64, |all, next| all | next);
        difference.ct_eq(&0).into()
    }
}

fn word(bytes: &[u8]) -> u64 {
    u64::from_ne_bytes(bytes.try_into().expect("chunks_exact(8) yields 8 bytes"))
}

impl std::hash::Hash for TokenDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn short_salts_are_rejected_with_the_length() {
        let err = TokenSalt::new(b"short").unwrap_err();
        assert_eq!(err, SaltError::TooShort { len: 5 });
        assert!(err.to_string().contains("ML_DEPLOYMENT_TOKEN_SALT is only 5 bytes"));
    }

    #[test]
    fn digest_is_hmac_sha256_keyed_by_the_salt() {
        // RFC 4231-style check against an independently computed value.
        let salt = TokenSalt::new(SALT).unwrap();
        let mut mac = HmacSha256::new_from_slice(SALT).unwrap();
        mac.update(b"gpd_example");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(salt.digest("gpd_example").as_bytes(), &expected);
    }

    #[test]
    fn different_salts_give_different_digests_and_fingerprints() {
        let a = TokenSalt::new(SALT).unwrap();
        let b = TokenSalt::new(b"another salt that is long enough!!").unwrap();
        assert_ne!(a.digest("x"), b.digest("x"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), TokenSalt::new(SALT).unwrap().fingerprint());
    }

    #[test]
    fn debug_output_is_redacted() {
        let salt = TokenSalt::new(SALT).unwrap();
        assert!(!format!("{salt:?}").contains("0123"));
        assert_eq!(format!("{:?}", salt.digest("x")), "TokenDigest(<redacted>)");
    }

    #[test]
    fn digests_differing_in_any_single_bit_are_unequal() {
        let base = TokenDigest::from_bytes([0x5a; 32]);
        assert_eq!(base, TokenDigest::from_bytes([0x5a; 32]));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut changed = *base.as_bytes();
                changed[byte] ^= 1 << bit;
                assert_ne!(base, TokenDigest::from_bytes(changed), "byte {byte}, bit {bit}");
            }
        }
    }
}
