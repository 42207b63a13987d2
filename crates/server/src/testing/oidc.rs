//! A stand-in OpenID Connect issuer, for tests (feature `testing`): it
//! serves a discovery document and a JWKS on 127.0.0.1 for RSA and P-256
//! keys made at run time, and signs ID tokens with them (`jsonwebtoken`), as
//! GitHub Actions or GitLab CI would. Nothing of gatepass's own is faked:
//! the server under test fetches the documents over HTTP and checks real
//! signatures. Private keys live in memory only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const JWKS_PATH: &str = "/jwks";

/// An OIDC issuer, as far as gatepass sees one.
pub struct OidcIssuer {
    addr: SocketAddr,
    shared: Arc<Published>,
    serving: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Published {
    issuer: Mutex<String>,
    keys: Mutex<Vec<IssuerKey>>,
    down: AtomicBool,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

#[derive(Clone)]
struct IssuerKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    published: bool,
}

impl OidcIssuer {
    /// Starts serving, with one RS256 key `rsa-1` and one ES256 key `ec-1`.
    pub async fn start() -> Self {
        let shared = Arc::new(Published::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the issuer");
        let addr = listener.local_addr().expect("its address");
        *shared.issuer.lock().unwrap() = format!("http://{addr}");
        let app =
            Router::new().route(DISCOVERY_PATH, get(discovery)).route(JWKS_PATH, get(jwks)).with_state(shared.clone());
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let issuer = Self { addr, shared, serving };
        issuer.add_rsa_key("rsa-1");
        issuer.add_ec_key("ec-1");
        issuer
    }

    /// The issuer URL (`iss`), `http://127.0.0.1:…`: the server under test
    /// needs `GATEPASS_OIDC_ALLOW_HTTP`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Publishes a new RSA key (2048 bits) for RS256, as in a key rotation.
    pub fn add_rsa_key(&self, kid: &str) {
        self.push(rsa_key(kid, true));
    }

    /// Publishes a new P-256 key for ES256.
    pub fn add_ec_key(&self, kid: &str) {
        self.push(ec_key(kid, true));
    }

    /// Makes an RSA key that signs but that the JWKS does not (yet) list.
    pub fn add_unpublished_rsa_key(&self, kid: &str) {
        self.push(rsa_key(kid, false));
    }

    /// Lists a key made unpublished in the JWKS from now on.
    pub fn publish(&self, kid: &str) {
        let mut keys = self.shared.keys.lock().unwrap();
        keys.iter_mut().filter(|key| key.kid == kid).for_each(|key| key.published = true);
    }

    fn push(&self, key: IssuerKey) {
        self.shared.keys.lock().unwrap().push(key);
    }

    /// While down, both documents answer 503.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// How many times the discovery document and the JWKS were asked for.
    pub fn fetches(&self) -> (usize, usize) {
        (self.shared.discovery_fetches.load(Ordering::SeqCst), self.shared.jwks_fetches.load(Ordering::SeqCst))
    }

    /// An ID token with `claims`, signed with key `kid` (named in its header).
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let keys = self.shared.keys.lock().unwrap();
        let key = keys.iter().find(|key| key.kid == kid).unwrap_or_else(|| panic!("no key {kid:?}"));
        let mut header = Header::new(key.algorithm);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
    }

    /// An ID token signed with a key nobody published, under a published kid: a forgery.
    pub fn forge(&self, kid: &str, claims: &Value) -> String {
        let forger = rsa_key(kid, false);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &forger.encoding).expect("sign")
    }

    /// The claims GitHub Actions puts in an ID token of `repository`'s
    /// `deploy.yml` workflow on `main`, valid for five minutes from now.
    pub fn github_claims(&self, audience: &str, repository: &str) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let owner = repository.split('/').next().unwrap_or_default();
        json!({
            "iss": self.url(),
            "aud": audience,
            "sub": format!("repo:{repository}:ref:refs/heads/main"),
            "jti": random_id(),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "repository": repository,
            "repository_owner": owner,
            "repository_owner_id": "4242",
            "ref": "refs/heads/main",
            "ref_type": "branch",
            "workflow_ref": format!("{repository}/.github/workflows/deploy.yml@refs/heads/main"),
            "job_workflow_ref": format!("{repository}/.github/workflows/deploy.yml@refs/heads/main"),
            "environment": "production",
            "run_id": "1",
        })
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_key(kid: &str, published: bool) -> IssuerKey {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("an RSA key");
    let der = private.to_pkcs1_der().expect("PKCS#1");
    let jwk = json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
    });
    IssuerKey {
        kid: kid.into(),
        algorithm: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        jwk,
        published,
    }
}

fn ec_key(kid: &str, published: bool) -> IssuerKey {
    let signing = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let der = signing.to_pkcs8_der().expect("PKCS#8");
    let point = signing.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
    });
    IssuerKey {
        kid: kid.into(),
        algorithm: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        jwk,
        published,
    }
}

async fn discovery(State(published): State<Arc<Published>>) -> Response {
    published.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if published.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let issuer = published.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
    .into_response()
}

async fn jwks(State(published): State<Arc<Published>>) -> Response {
    published.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if published.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let keys: Vec<Value> =
        published.keys.lock().unwrap().iter().filter(|key| key.published).map(|key| key.jwk.clone()).collect();
    Json(json!({ "keys": keys })).into_response()
}
