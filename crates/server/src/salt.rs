//! The token salt's relation to the stored tokens, checked at start: the
//! server keeps a fingerprint of the salt, so a changed salt is loud rather
//! than every token silently failing.

use gatepass_core::token::{SaltError, TokenSalt};
use gatepass_store::{Store, StoreError};

/// The salt's relation to the tokens in the database, checked at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaltStatus {
    Configured,
    Missing,
    /// The salt differs from the one the stored tokens were made with: none
    /// of them can verify.
    Changed,
}

impl SaltStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SaltStatus::Configured => "configured",
            SaltStatus::Missing => "missing",
            SaltStatus::Changed => "changed",
        }
    }
}

const SALT_FINGERPRINT_KEY: &str = "token_salt_fingerprint";

/// Compares the salt with the one the stored tokens were made with. A change
/// is logged loudly (and shown on `/readyz`); with no tokens yet the new
/// fingerprint is simply recorded.
pub async fn check_salt(store: &dyn Store, salt: &Result<TokenSalt, SaltError>) -> Result<SaltStatus, StoreError> {
    let salt = match salt {
        Ok(salt) => salt,
        Err(err) => {
            tracing::warn!("{err}");
            return Ok(SaltStatus::Missing);
        }
    };
    let fingerprint = salt.fingerprint();
    match store.get_setting(SALT_FINGERPRINT_KEY).await? {
        Some(stored) if stored == fingerprint => Ok(SaltStatus::Configured),
        Some(_) if store.count_tokens().await? > 0 => {
            tracing::error!(
                "ML_DEPLOYMENT_TOKEN_SALT has changed since the stored tokens were issued: NONE of them will verify. \
                 Restore the previous salt, or rotate every token. /readyz reports this until then."
            );
            Ok(SaltStatus::Changed)
        }
        _ => {
            store.put_setting(SALT_FINGERPRINT_KEY, &fingerprint).await?;
            Ok(SaltStatus::Configured)
        }
    }
}
