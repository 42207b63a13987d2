//! The token salt's relation to the stored tokens, checked at start: the
//! server keeps the fingerprints of the current salt and, during a
//! rotation, of the previous one, so a changed salt is loud rather than
//! every token silently failing.
//!
//! A rotation: start every node with the new salt as
//! `ML_DEPLOYMENT_TOKEN_SALT` and the old one as
//! `ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS`. Tokens digested under the old salt
//! still verify and are re-digested under the new one on their first use
//! (see [`crate::verify`]); each token row names the fingerprint of the salt
//! its digest was made with, so `/readyz` can count those left. Once the
//! count is 0, drop the previous salt.

use gatepass_core::token::{SaltError, TokenSalt};
use gatepass_store::{Store, StoreError};
use time::OffsetDateTime;

/// The salt's relation to the tokens in the database, checked at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaltStatus {
    Configured,
    /// A previous salt is configured too: tokens digested under it verify
    /// and move to the current salt on first use.
    Rotating,
    Missing,
    /// The salt matches neither the one the stored tokens were made with nor
    /// the previous salt: none of them can verify.
    Changed,
}

impl SaltStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SaltStatus::Configured => "configured",
            SaltStatus::Rotating => "rotating",
            SaltStatus::Missing => "missing",
            SaltStatus::Changed => "changed",
        }
    }
}

pub const SALT_FINGERPRINT_KEY: &str = "token_salt_fingerprint";
pub const PREVIOUS_SALT_FINGERPRINT_KEY: &str = "token_salt_previous_fingerprint";

/// Compares the salts with the ones the stored tokens were made with. A
/// change that is not a rotation is logged loudly (and shown on `/readyz`);
/// with no tokens yet the new fingerprint is simply recorded. A rotation
/// (the stored fingerprint is the previous salt's) records both.
pub async fn check_salt(
    store: &dyn Store,
    salt: &Result<TokenSalt, SaltError>,
    previous: Option<&TokenSalt>,
) -> Result<SaltStatus, StoreError> {
    let salt = match salt {
        Ok(salt) => salt,
        Err(err) => {
            tracing::warn!("{err}");
            return Ok(SaltStatus::Missing);
        }
    };
    let fingerprint = salt.fingerprint();
    let previous_fingerprint = previous.map(TokenSalt::fingerprint);
    let stored = store.get_setting(SALT_FINGERPRINT_KEY).await?;
    let status = match (stored, &previous_fingerprint) {
        (Some(stored), _) if stored == fingerprint => {
            if previous_fingerprint.is_some() {
                SaltStatus::Rotating
            } else {
                SaltStatus::Configured
            }
        }
        (Some(stored), Some(previous)) if stored == *previous => {
            tracing::warn!(
                "token salt rotation: ML_DEPLOYMENT_TOKEN_SALT is new and ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS is the salt \
                 the stored tokens were made with; each token moves to the new salt on its first use"
            );
            store.put_setting(SALT_FINGERPRINT_KEY, &fingerprint).await?;
            SaltStatus::Rotating
        }
        (Some(_), _) if store.count_tokens().await? > 0 => {
            tracing::error!(
                "ML_DEPLOYMENT_TOKEN_SALT has changed since the stored tokens were issued, and \
                 ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS does not name the salt they were made with: NONE of them will verify. \
                 Restore the previous salt (or set it as ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS), or rotate every token. \
                 /readyz reports this until then."
            );
            return Ok(SaltStatus::Changed);
        }
        _ => {
            store.put_setting(SALT_FINGERPRINT_KEY, &fingerprint).await?;
            if previous_fingerprint.is_some() {
                SaltStatus::Rotating
            } else {
                SaltStatus::Configured
            }
        }
    };
    if let Some(previous) = &previous_fingerprint {
        store.put_setting(PREVIOUS_SALT_FINGERPRINT_KEY, previous).await?;
    }
    let left = store.count_tokens_on_other_salts(&fingerprint, OffsetDateTime::now_utc()).await?;
    if left > 0 && status == SaltStatus::Configured {
        tracing::error!(
            tokens = left,
            "{left} live token(s) were digested under a salt that is no longer configured: they will NOT verify. \
             Set ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS to that salt until they have been used once, or rotate them. \
             /readyz reports them as tokens_on_previous_salt."
        );
    }
    Ok(status)
}

/// How many live tokens are still digested under another salt than the
/// current one: during a rotation, those not used since it began; after it,
/// those stranded.
pub async fn tokens_on_previous_salt(
    store: &dyn Store,
    salt: &TokenSalt,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    store.count_tokens_on_other_salts(&salt.fingerprint(), now).await
}

/// What `gatepass admin salt-status` reports, read without writing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaltReport {
    /// `configured`, `rotating`, `stranded` or `changed`, as `/readyz` says.
    pub token_salt: &'static str,
    pub tokens_on_previous_salt: u64,
}

/// The salts' relation to the stored tokens, as a server started with them
/// would report it on `/readyz` (but without recording anything).
pub async fn inspect(
    store: &dyn Store,
    salt: &TokenSalt,
    previous: Option<&TokenSalt>,
) -> Result<SaltReport, StoreError> {
    let fingerprint = salt.fingerprint();
    let previous_fingerprint = previous.map(TokenSalt::fingerprint);
    let stored = store.get_setting(SALT_FINGERPRINT_KEY).await?;
    let tokens_on_previous_salt = store.count_tokens_on_other_salts(&fingerprint, OffsetDateTime::now_utc()).await?;
    let foreign = stored.is_some_and(|stored| stored != fingerprint && Some(&stored) != previous_fingerprint.as_ref());
    let token_salt = if foreign {
        // A salt nobody issued tokens under is only wrong if there are tokens.
        if store.count_tokens().await? > 0 {
            "changed"
        } else {
            "configured"
        }
    } else if previous.is_some() {
        "rotating"
    } else if tokens_on_previous_salt > 0 {
        "stranded"
    } else {
        "configured"
    };
    Ok(SaltReport { token_salt, tokens_on_previous_salt })
}
