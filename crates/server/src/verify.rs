//! The verify path: parse → checksum → digest → lookup → status and grace.
//! The scope check happens in `gatepass_core::access`, once the caller knows
//! what the request wants to do.

use std::sync::Arc;

use gatepass_core::token::{self, SaltError, TokenSalt};
use gatepass_store::{Store, StoreError, TokenRecord};
use time::OffsetDateTime;

use crate::last_used::LastUsed;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No usable salt: the server cannot tell valid tokens from invalid ones.
    #[error(transparent)]
    Salt(#[from] SaltError),
    /// Malformed, unknown, expired or revoked: deliberately one case.
    #[error("invalid token")]
    Rejected,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct TokenVerifier {
    salt: Result<TokenSalt, SaltError>,
    store: Arc<dyn Store>,
    last_used: Arc<LastUsed>,
}

impl TokenVerifier {
    pub fn new(salt: Result<TokenSalt, SaltError>, store: Arc<dyn Store>, last_used: Arc<LastUsed>) -> Self {
        Self { salt, store, last_used }
    }

    pub fn salt(&self) -> Result<&TokenSalt, SaltError> {
        self.salt.as_ref().map_err(Clone::clone)
    }

    /// Checks a presented token; on success records the use (in memory).
    pub async fn verify(&self, presented: &str, now: OffsetDateTime) -> Result<TokenRecord, VerifyError> {
        let salt = self.salt()?;
        // A malformed token is rejected before any database work.
        let parsed = token::parse(presented).map_err(|_| VerifyError::Rejected)?;
        let digest = salt.digest(parsed.as_str());
        let record = self.store.find_token_by_digest(&digest).await?.ok_or(VerifyError::Rejected)?;
        if !record.accepts(&digest, now) {
            return Err(VerifyError::Rejected);
        }
        self.last_used.touch(record.id, now);
        Ok(record)
    }
}
