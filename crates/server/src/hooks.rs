//! Deploy hooks: a signed webhook per deployment, so the user's own runner
//! does the rollout. Delivered in the background with exponential backoff.
//!
//! Signature: `X-Gatepass-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//! with `X-Gatepass-Timestamp` (Unix seconds), as Stripe and GitHub do, so a
//! receiver can reject replays.

use std::sync::Arc;

use gatepass_store::{DeployHook, Deployment, HookStatus, Store};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::metrics::{bump, Metrics};

pub const SIGNATURE_HEADER: &str = "x-gatepass-signature";
pub const TIMESTAMP_HEADER: &str = "x-gatepass-timestamp";

#[derive(Clone)]
pub struct HookSender {
    client: reqwest::Client,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    retry_base: std::time::Duration,
    attempts: u32,
}

/// `sha256=<hex>` over `<timestamp>.<body>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A fresh hook signing secret: `whsec_` + 32 base62 characters.
pub fn new_secret() -> String {
    let mut random = [0u8; 32];
    gatepass_core::base62::fill_random(&mut random);
    format!("whsec_{}", std::str::from_utf8(&random).expect("ASCII"))
}

impl HookSender {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, retry_base: std::time::Duration, attempts: u32) -> Self {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatepass/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { client, store, metrics, retry_base, attempts: attempts.max(1) }
    }

    /// Delivers `payload` for `deployment` in the background.
    pub fn dispatch(&self, deployment: &Deployment, hook: DeployHook, payload: serde_json::Value) {
        let sender = self.clone();
        let id = deployment.id;
        tokio::spawn(async move {
            let body = serde_json::to_vec(&payload).expect("JSON");
            let status = if sender.deliver(&hook, &body, id.as_str()).await {
                bump(&sender.metrics.hook_deliveries_ok);
                HookStatus::Delivered
            } else {
                bump(&sender.metrics.hook_deliveries_failed);
                HookStatus::Failed
            };
            if let Err(err) = sender.store.set_hook_status(id, status).await {
                tracing::warn!(deployment = %id, error = %err, "could not save deploy hook status");
            }
        });
    }

    async fn deliver(&self, hook: &DeployHook, body: &[u8], delivery: &str) -> bool {
        let mut delay = self.retry_base;
        for attempt in 1..=self.attempts {
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let result = self
                .client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, sign(&hook.secret, timestamp, body))
                .header(TIMESTAMP_HEADER, timestamp)
                .header("x-gatepass-event", "deployment.created")
                .header("x-gatepass-delivery", delivery)
                .body(body.to_vec())
                .send()
                .await;
            match result {
                Ok(response) if response.status().is_success() => return true,
                Ok(response) => {
                    tracing::warn!(%delivery, attempt, status = %response.status(), "deploy hook answered with an error")
                }
                Err(err) => tracing::warn!(%delivery, attempt, error = %err, "deploy hook unreachable"),
            }
            if attempt < self.attempts {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        let signature = sign("whsec_test", 1700000000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").unwrap();
        mac.update(b"1700000000.{}");
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signature, format!("sha256={expected}"));
    }
}
