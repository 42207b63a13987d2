//! Who sent a secret scanning alert: GitHub's secret scanning partner program
//! signs each alert's raw body with ECDSA P-256 / SHA-256 and names the key in
//! `Github-Public-Key-Identifier`; the signature (base64 of ASN.1 DER) is in
//! `Github-Public-Key-Signature`. The keys are published as
//! `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`.
//!
//! Keys are fetched once and cached for an hour; an alert signed by a key id
//! the cache does not know fetches them again, at most once a minute, so a
//! rotation is picked up at once and a flood of made-up ids costs GitHub one
//! request a minute. A key that is not current signs nothing.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use time::OffsetDateTime;

pub const KEY_ID_HEADER: &str = "github-public-key-identifier";
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

/// How long one fetch of the keys document may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Fetches at most this often (an unknown key id, or after a failure).
const REFETCH_INTERVAL: time::Duration = time::Duration::minutes(1);
/// How long fetched keys are trusted, so that a key GitHub stops calling
/// current stops signing here too.
const KEYS_TTL: time::Duration = time::Duration::hours(1);
/// The longest key id quoted back in an error.
const MAX_QUOTED_ID: usize = 100;

/// Why an alert's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the alert is not signed: send the Github-Public-Key-Identifier and Github-Public-Key-Signature headers")]
    Missing,
    #[error("Github-Public-Key-Signature is not base64 of an ASN.1 DER ECDSA signature")]
    Malformed,
    #[error("the alert is signed with key {0:?}, which is not among the secret scanning keys")]
    UnknownKey(String),
    #[error("the alert is signed with key {0:?}, which is no longer current")]
    NotCurrent(String),
    #[error("the signature does not match the body for key {0:?}")]
    Mismatch(String),
    /// Not the sender's fault: the keys to check with cannot be had.
    #[error("the secret scanning keys cannot be fetched from {url} ({reason}); nothing was revoked, retry later")]
    KeysUnavailable { url: String, reason: String },
}

/// The keys that sign alerts, fetched from the configured URL and cached.
pub struct ScanningKeys {
    url: String,
    client: reqwest::Client,
    cache: tokio::sync::Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    fetched: Option<Fetched>,
    last_attempt: Option<OffsetDateTime>,
    /// Why the last attempt failed, if it did.
    last_failure: Option<String>,
}

struct Fetched {
    at: OffsetDateTime,
    keys: HashMap<String, PublishedKey>,
}

struct PublishedKey {
    /// `None` when the published PEM is not a P-256 public key.
    key: Option<VerifyingKey>,
    current: bool,
}

#[derive(Deserialize)]
struct KeysDocument {
    public_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    key_identifier: String,
    key: String,
    #[serde(default)]
    is_current: bool,
}

impl ScanningKeys {
    pub fn new(url: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("gatepass/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { url: url.to_string(), client, cache: Default::default() }
    }

    /// Checks that `body`, exactly as received, was signed by a current key.
    pub async fn verify(&self, headers: &HeaderMap, body: &[u8], now: OffsetDateTime) -> Result<(), SignatureError> {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
        let (Some(key_id), Some(signature)) = (header(KEY_ID_HEADER), header(SIGNATURE_HEADER)) else {
            return Err(SignatureError::Missing);
        };
        if key_id.is_empty() {
            return Err(SignatureError::Missing);
        }
        let der = base64::engine::general_purpose::STANDARD.decode(signature).map_err(|_| SignatureError::Malformed)?;
        let signature = DerSignature::try_from(der.as_slice()).map_err(|_| SignatureError::Malformed)?;
        let key = self.current_key(key_id, now).await?;
        key.verify(body, &signature).map_err(|_| SignatureError::Mismatch(quoted(key_id)))
    }

    /// The current key `key_id`, fetching the keys when they are missing,
    /// old, or do not know it (at most once a minute).
    async fn current_key(&self, key_id: &str, now: OffsetDateTime) -> Result<VerifyingKey, SignatureError> {
        let mut cache = self.cache.lock().await;
        let known = cache.fresh(now).is_some_and(|fetched| fetched.keys.contains_key(key_id));
        let may_fetch = cache.last_attempt.is_none_or(|at| now >= at + REFETCH_INTERVAL);
        if !known && may_fetch {
            cache.last_attempt = Some(now);
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(url = %self.url, keys = keys.len(), "fetched the secret scanning keys");
                    cache.fetched = Some(Fetched { at: now, keys });
                    cache.last_failure = None;
                }
                Err(reason) => {
                    tracing::warn!(url = %self.url, %reason, "cannot fetch the secret scanning keys");
                    cache.last_failure = Some(reason);
                }
            }
        }
        let Some(fetched) = cache.fresh(now) else {
            let reason = cache.last_failure.clone().unwrap_or_else(|| "no keys fetched yet".into());
            return Err(SignatureError::KeysUnavailable { url: self.url.clone(), reason });
        };
        match fetched.keys.get(key_id) {
            None => Err(SignatureError::UnknownKey(quoted(key_id))),
            Some(published) if !published.current => Err(SignatureError::NotCurrent(quoted(key_id))),
            // A current key whose PEM we cannot read can verify nothing.
            Some(published) => published.key.ok_or_else(|| SignatureError::Mismatch(quoted(key_id))),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, PublishedKey>, String> {
        let response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| err.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("it answered {status}"));
        }
        let document: KeysDocument =
            response.json().await.map_err(|err| format!("the keys document cannot be read: {err}"))?;
        let mut keys = HashMap::with_capacity(document.public_keys.len());
        for entry in document.public_keys {
            let key = VerifyingKey::from_public_key_pem(&entry.key).ok();
            if key.is_none() {
                tracing::warn!(key_identifier = %entry.key_identifier, "a secret scanning key is not a P-256 PEM public key");
            }
            keys.insert(entry.key_identifier, PublishedKey { key, current: entry.is_current });
        }
        Ok(keys)
    }
}

impl Cache {
    fn fresh(&self, now: OffsetDateTime) -> Option<&Fetched> {
        self.fetched.as_ref().filter(|fetched| now < fetched.at + KEYS_TTL)
    }
}

/// A key id as sent, cut short: it is the sender's text.
fn quoted(key_id: &str) -> String {
    key_id.chars().take(MAX_QUOTED_ID).collect()
}
