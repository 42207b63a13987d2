//! Login session credentials: `gps_` + 40 random base62 characters, stored
//! only as SHA-256 (they are random, so a fast hash suffices, and sessions
//! keep working when the token salt is missing).

use gatepass_core::base62;
pub use gatepass_core::token::SESSION_PREFIX;
use sha2::{Digest, Sha256};

const RANDOM_LEN: usize = 40;

/// A session credential, shown once to the client that logged in. Its
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCredential(String);

impl SessionCredential {
    pub fn generate() -> Self {
        let mut random = [0u8; RANDOM_LEN];
        base62::fill_random(&mut random);
        let mut text = String::with_capacity(SESSION_PREFIX.len() + RANDOM_LEN);
        text.push_str(SESSION_PREFIX);
        text.extend(random.iter().map(|&byte| char::from(byte)));
        Self(text)
    }

    /// The credential itself, for the one answer (or cookie) that hands it out.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> [u8; 32] {
        credential_digest(&self.0)
    }
}

impl std::fmt::Debug for SessionCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCredential(<redacted>)")
    }
}

pub fn is_session_credential(text: &str) -> bool {
    text.starts_with(SESSION_PREFIX)
}

pub fn credential_digest(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_prefixed_random_and_never_printed() {
        let credential = SessionCredential::generate();
        assert!(is_session_credential(credential.expose_secret()));
        assert_eq!(credential.expose_secret().len(), SESSION_PREFIX.len() + RANDOM_LEN);
        assert_ne!(credential, SessionCredential::generate());
        assert!(!format!("{credential:?}").contains(credential.expose_secret()));
    }
}
