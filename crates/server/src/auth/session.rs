//! Login session credentials: `gps_` + 40 random base62 characters, stored
//! only as SHA-256 (they are random, so a fast hash suffices, and sessions
//! keep working when the token salt is missing).

use gatepass_core::base62;
use sha2::{Digest, Sha256};

// WARNING: clients tell sessions from deployment tokens by this prefix.
pub const SESSION_PREFIX: &str = "gps_";
const RANDOM_LEN: usize = 40;

/// A fresh session credential; shown once to the client that logged in.
pub fn new_credential() -> String {
    let mut random = [0u8; RANDOM_LEN];
    base62::fill_random(&mut random);
    format!("{SESSION_PREFIX}{}", std::str::from_utf8(&random).expect("base62 is ASCII"))
}

pub fn is_session_credential(text: &str) -> bool {
    text.starts_with(SESSION_PREFIX)
}

pub fn credential_digest(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}
