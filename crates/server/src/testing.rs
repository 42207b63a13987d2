//! Stand-ins for the outside world, for tests (feature `testing`). This
//! file is GitHub's secret scanning service: it publishes a keys document
//! on 127.0.0.1, with P-256 keys made at run time, and signs alerts with
//! them as GitHub does; [`oidc`] is an OpenID Connect issuer. Nothing of
//! gatepass's own is faked: the server under test fetches the documents
//! over HTTP and checks real signatures.

pub mod oidc;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};

pub use crate::auth::secret_scanning::{KEY_ID_HEADER, SIGNATURE_HEADER};

/// The keys document's path on the stand-in.
const KEYS_PATH: &str = "/meta/public_keys/secret_scanning";

/// GitHub's secret scanning service, as far as gatepass sees it.
pub struct ScanningPartner {
    addr: SocketAddr,
    shared: Arc<Published>,
    serving: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Published {
    keys: Mutex<Vec<PartnerKey>>,
    down: AtomicBool,
    fetches: AtomicUsize,
}

struct PartnerKey {
    id: String,
    signing: SigningKey,
    current: bool,
}

impl ScanningPartner {
    /// Starts publishing, with one current key `key_id`.
    pub async fn start(key_id: &str) -> Self {
        let shared = Arc::new(Published::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the keys server");
        let addr = listener.local_addr().expect("its address");
        let app = Router::new().route(KEYS_PATH, get(keys_document)).with_state(shared.clone());
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let partner = Self { addr, shared, serving };
        partner.add_key(key_id, true);
        partner
    }

    /// The URL of the keys document, for `GATEPASS_SECRET_SCANNING_KEYS_URL`.
    pub fn keys_url(&self) -> String {
        format!("http://{}{KEYS_PATH}", self.addr)
    }

    /// Publishes a new key (as in a key rotation).
    pub fn add_key(&self, key_id: &str, current: bool) {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        self.shared.keys.lock().unwrap().push(PartnerKey { id: key_id.into(), signing, current });
    }

    /// Marks a published key current or not.
    pub fn set_current(&self, key_id: &str, current: bool) {
        let mut keys = self.shared.keys.lock().unwrap();
        keys.iter_mut().filter(|key| key.id == key_id).for_each(|key| key.current = current);
    }

    /// While down, the keys document answers 503.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// How many times the keys document was asked for.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// The signature header value GitHub would send for `body` with `key_id`,
    /// which must have been published (even if no longer current).
    pub fn sign(&self, key_id: &str, body: &[u8]) -> String {
        let keys = self.shared.keys.lock().unwrap();
        let key = keys.iter().find(|key| key.id == key_id).unwrap_or_else(|| panic!("no key {key_id:?}"));
        encode(&key.signing, body)
    }

    /// A signature made with a key nobody published: a forgery.
    pub fn forge(body: &[u8]) -> String {
        encode(&SigningKey::random(&mut rand::rngs::OsRng), body)
    }

    /// An alert body as GitHub sends it: `[{"token", "type", "url", "source"}]`.
    pub fn alert(findings: &[(&str, &str)]) -> Vec<u8> {
        let items: Vec<serde_json::Value> = findings
            .iter()
            .map(|(token, url)| {
                serde_json::json!({ "token": token, "type": "gatepass_token", "url": url, "source": "content" })
            })
            .collect();
        serde_json::to_vec(&items).expect("JSON")
    }
}

impl Drop for ScanningPartner {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

fn encode(key: &SigningKey, body: &[u8]) -> String {
    let signature: Signature = key.sign(body);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

async fn keys_document(State(published): State<Arc<Published>>) -> Response {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    if published.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let keys = published.keys.lock().unwrap();
    let public_keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            let pem = key.signing.verifying_key().to_public_key_pem(LineEnding::LF).expect("PEM");
            serde_json::json!({ "key_identifier": key.id, "key": pem, "is_current": key.current })
        })
        .collect();
    Json(serde_json::json!({ "public_keys": public_keys })).into_response()
}
