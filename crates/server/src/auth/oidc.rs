//! Who a CI job is: the signature of an OpenID Connect ID token, checked
//! with its issuer's published keys (trusted deploys, SPEC 6.2).
//!
//! An issuer's keys come from `{iss}/.well-known/openid-configuration` →
//! `jwks_uri`, fetched with a 5 s timeout and cached for an hour. An ID
//! token signed with a key id the cache does not know fetches them again,
//! at most once a minute per issuer, so a key rotation is picked up at once
//! and a flood of made-up key ids costs the issuer one request a minute.
//! Only issuers that some trust policy names are ever fetched (the caller
//! looks the policies up first), and the cache holds at most
//! [`MAX_ISSUERS`] issuers with at most [`MAX_KEYS`] keys each.
//!
//! Parsing and signature checks are `jsonwebtoken`'s (RustCrypto backend);
//! RS256 and ES256 only.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use quick_cache::sync::Cache;
use serde::Deserialize;
use time::OffsetDateTime;

/// `GATEPASS_OIDC_ALLOW_HTTP=1` lets issuers use `http://` (local testing only).
pub const ALLOW_HTTP_ENV: &str = "GATEPASS_OIDC_ALLOW_HTTP";
/// The algorithms an ID token may be signed with.
pub const ACCEPTED_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// The most issuers whose keys are kept at once.
pub const MAX_ISSUERS: usize = 256;
/// The most keys kept per issuer; more published keys are ignored.
pub const MAX_KEYS: usize = 32;

/// How long one fetch (of the discovery document or the key set) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Fetches at most this often per issuer (an unknown key id, or after a failure).
const REFETCH_INTERVAL: time::Duration = time::Duration::minutes(1);
/// How long fetched keys are trusted, so that a key the issuer withdrew
/// stops verifying here too.
const KEYS_TTL: time::Duration = time::Duration::hours(1);
/// The largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The longest key id quoted back in an error.
const MAX_QUOTED: usize = 100;

/// What an ID token says about itself before anything is checked.
#[derive(Debug, Clone)]
pub struct Unverified {
    pub algorithm: Algorithm,
    pub key_id: Option<String>,
    pub issuer: String,
}

/// Reads the header and the `iss` claim of `jwt`, unverified: only to know
/// whose keys would check it.
pub fn peek(jwt: &str) -> Result<Unverified, String> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "the ID token is not a signed JWT".to_string())?;
    if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
        return Err(format!("algorithm {:?} is not accepted (use RS256 or ES256)", header.alg));
    }
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    let claims = jsonwebtoken::dangerous::insecure_decode::<Issuer>(jwt)
        .map_err(|_| "the ID token's claims cannot be read".to_string())?;
    let issuer = claims.claims.iss.ok_or_else(|| "the ID token has no iss".to_string())?;
    Ok(Unverified { algorithm: header.alg, key_id: header.kid, issuer })
}

/// Checks the signature of `jwt` with `key` and answers its claims. Times,
/// issuer and audience are the caller's to check, against its own clock.
pub fn verify_signature(
    jwt: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(jwt, key, &validation)
        .map(|data| data.claims)
        .map_err(|err| match err.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => "the signature does not match".to_string(),
            _ => "the ID token cannot be verified".to_string(),
        })
}

/// Why no key can check an ID token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not the caller's fault: the issuer cannot be reached or answers nonsense.
    #[error("the OIDC issuer {issuer} cannot be reached ({reason}); nothing was minted, retry later")]
    Unavailable { issuer: String, reason: String },
    #[error("the issuer publishes no {algorithm:?} key with id {key_id:?}")]
    UnknownKey { key_id: String, algorithm: Algorithm },
    #[error("the ID token names no key (kid) and the issuer publishes several")]
    NoKeyId,
}

/// The published keys of every issuer asked about, fetched when needed.
pub struct IssuerKeys {
    allow_http: bool,
    client: reqwest::Client,
    issuers: Cache<String, Arc<Issuer>>,
}

/// One issuer's keys; the lock makes concurrent misses wait for one fetch.
#[derive(Default)]
pub struct Issuer {
    state: tokio::sync::Mutex<IssuerState>,
}

#[derive(Default)]
struct IssuerState {
    fetched: Option<Fetched>,
    last_attempt: Option<OffsetDateTime>,
    last_failure: Option<String>,
}

struct Fetched {
    at: OffsetDateTime,
    keys: Vec<PublishedKey>,
}

#[derive(Clone)]
struct PublishedKey {
    key_id: Option<String>,
    /// The one algorithm the key checks (from its type, and its `alg` when given).
    algorithm: Algorithm,
    key: Arc<DecodingKey>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

impl IssuerKeys {
    pub fn new(allow_http: bool) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatepass/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { allow_http, client, issuers: Cache::new(MAX_ISSUERS) }
    }

    /// Whether `http://` issuers are allowed (`GATEPASS_OIDC_ALLOW_HTTP=1`).
    pub fn allows_http(&self) -> bool {
        self.allow_http
    }

    /// How many issuers' keys are cached (at most [`MAX_ISSUERS`]).
    pub fn cached_issuers(&self) -> usize {
        self.issuers.len()
    }

    /// The key of `issuer` that checks `algorithm` signatures with `key_id`,
    /// fetching the keys when they are missing, old, or do not know it (at
    /// most once a minute per issuer).
    pub async fn key(
        &self,
        issuer: &str,
        key_id: Option<&str>,
        algorithm: Algorithm,
        now: OffsetDateTime,
    ) -> Result<Arc<DecodingKey>, KeyError> {
        let entry = match self.issuers.get(issuer) {
            Some(entry) => entry,
            None => {
                let entry = Arc::new(Issuer::default());
                self.issuers.insert(issuer.to_string(), entry.clone());
                entry
            }
        };
        let mut state = entry.state.lock().await;
        let known = state.fresh(now).and_then(|fetched| fetched.find(key_id, algorithm)).is_some();
        let may_fetch = state.last_attempt.is_none_or(|at| now >= at + REFETCH_INTERVAL);
        if !known && may_fetch {
            state.last_attempt = Some(now);
            match self.fetch(issuer).await {
                Ok(keys) => {
                    tracing::info!(%issuer, keys = keys.len(), "fetched the OIDC issuer's keys");
                    state.fetched = Some(Fetched { at: now, keys });
                    state.last_failure = None;
                }
                Err(reason) => {
                    tracing::warn!(%issuer, %reason, "cannot fetch the OIDC issuer's keys");
                    state.last_failure = Some(reason);
                }
            }
        }
        let Some(fetched) = state.fresh(now) else {
            let reason = state.last_failure.clone().unwrap_or_else(|| "no keys fetched yet".into());
            return Err(KeyError::Unavailable { issuer: issuer.to_string(), reason });
        };
        match fetched.find(key_id, algorithm) {
            Some(found) => Ok(found.key.clone()),
            None if key_id.is_none() => Err(KeyError::NoKeyId),
            None => Err(KeyError::UnknownKey {
                key_id: key_id.unwrap_or_default().chars().take(MAX_QUOTED).collect(),
                algorithm,
            }),
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<Vec<PublishedKey>, String> {
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = serde_json::from_slice(&self.get(&discovery_url).await?)
            .map_err(|err| format!("the discovery document cannot be read: {err}"))?;
        if discovery.issuer.as_deref().is_some_and(|named| named.trim_end_matches('/') != issuer) {
            return Err("the discovery document names another issuer".into());
        }
        if gatepass_core::trust::parse_issuer(&discovery.jwks_uri, self.allow_http).is_err() {
            return Err("its jwks_uri is not an https:// URL".into());
        }
        let set: KeySet = serde_json::from_slice(&self.get(&discovery.jwks_uri).await?)
            .map_err(|err| format!("the key set cannot be read: {err}"))?;
        let keys: Vec<PublishedKey> = set.keys.into_iter().filter_map(published_key).take(MAX_KEYS).collect();
        if keys.is_empty() {
            return Err("the key set has no RS256 or ES256 signing key".into());
        }
        Ok(keys)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| if err.is_timeout() { "it did not answer within 5 s".into() } else { describe(&err) })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| describe(&err))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url} is larger than 256 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A reqwest error without its URL's query (never secret here, but short).
fn describe(err: &reqwest::Error) -> String {
    if err.is_connect() {
        "the connection failed".into()
    } else if err.is_timeout() {
        "it did not answer within 5 s".into()
    } else {
        "the request failed".into()
    }
}

/// A published signing key that RS256 or ES256 can use; others are skipped.
fn published_key(value: serde_json::Value) -> Option<PublishedKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if jwk.common.public_key_use.as_ref().is_some_and(|usage| *usage != jsonwebtoken::jwk::PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    if let Some(declared) = jwk.common.key_algorithm {
        if declared.to_string() != format!("{algorithm:?}") {
            return None;
        }
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(PublishedKey { key_id: jwk.common.key_id.clone(), algorithm, key: Arc::new(key) })
}

impl IssuerState {
    fn fresh(&self, now: OffsetDateTime) -> Option<&Fetched> {
        self.fetched.as_ref().filter(|fetched| now < fetched.at + KEYS_TTL)
    }
}

impl Fetched {
    /// The key named `key_id` for `algorithm`; without a key id, the only key
    /// for `algorithm`, if there is exactly one.
    fn find(&self, key_id: Option<&str>, algorithm: Algorithm) -> Option<&PublishedKey> {
        let mut candidates = self.keys.iter().filter(|key| key.algorithm == algorithm);
        match key_id {
            Some(id) => candidates.find(|key| key.key_id.as_deref() == Some(id)),
            None => {
                let first = candidates.next()?;
                candidates.next().is_none().then_some(first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rs256_and_es256_tokens_are_looked_at() {
        // {"alg":"HS256","typ":"JWT"}.{"iss":"https://x.example"}.sig
        let hs256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL3guZXhhbXBsZSJ9.c2ln";
        assert!(peek(hs256).unwrap_err().contains("not accepted"));
        assert!(peek("not a jwt").unwrap_err().contains("not a signed JWT"));
    }

    #[tokio::test]
    async fn the_cache_holds_a_bounded_number_of_issuers() {
        // Nothing listens on port 9 here: every fetch fails at once, and
        // each issuer still takes a cache entry.
        let keys = IssuerKeys::new(true);
        let now = OffsetDateTime::now_utc();
        for n in 0..(MAX_ISSUERS + 50) {
            let issuer = format!("http://127.0.0.1:9/issuer-{n}");
            let err = keys.key(&issuer, Some("k"), Algorithm::RS256, now).await.unwrap_err();
            assert!(matches!(err, KeyError::Unavailable { .. }), "{err}");
        }
        assert!(keys.cached_issuers() <= MAX_ISSUERS, "{} issuers cached", keys.cached_issuers());
    }

    #[test]
    fn keys_of_other_types_or_declared_algorithms_are_skipped() {
        let okp =
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert!(published_key(okp).is_none());
        let rsa_for_ps256 = serde_json::json!({"kty": "RSA", "alg": "PS256", "n": "AQAB", "e": "AQAB", "kid": "k"});
        assert!(published_key(rsa_for_ps256).is_none());
        let encryption = serde_json::json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"});
        assert!(published_key(encryption).is_none());
    }
}
