//! Deploy hooks: a signed webhook per deployment, so the user's own runner
//! does the rollout. Delivered in the background with exponential backoff.
//!
//! A deployment records its delivery as pending, claimed by the node that
//! created it, in the same write that records the deployment. A node that
//! stops mid-delivery (a crash, a deploy of gatepass itself) leaves it
//! pending; once the claim is older than any node's retries can take, a
//! sweeping node claims it and delivers it again. Receivers may therefore
//! see a delivery twice and should deduplicate on `X-Gatepass-Delivery`
//! (the deployment id), as with GitHub's and Stripe's webhooks.
//!
//! Signature: `X-Gatepass-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//! with `X-Gatepass-Timestamp` (Unix seconds), as Stripe and GitHub do, so a
//! receiver can reject replays.

use std::sync::Arc;
use std::time::Duration;

use gatepass_store::{DeployHook, Deployment, HookStatus, Project, Store, StoreResult};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::metrics::{bump, Metrics};
use crate::periodic::{spawn_every, OnShutdown};
use crate::views::DeploymentView;

pub const SIGNATURE_HEADER: &str = "x-gatepass-signature";
pub const TIMESTAMP_HEADER: &str = "x-gatepass-timestamp";

/// How long one attempt may take before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack on top of the longest delivery before a claim counts as stale: for
/// clocks of different nodes and a store that answers slowly.
const STALE_CLAIM_MARGIN: Duration = Duration::from_secs(60);
/// Stale deliveries claimed per store round trip.
const CLAIM_BATCH: u32 = 100;

#[derive(Clone)]
pub struct HookSender {
    client: reqwest::Client,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    retry_base: std::time::Duration,
    attempts: u32,
    /// This server's URL as runners reach it, for the `status_url` of each event.
    public_url: Arc<str>,
}

/// `sha256=<hex>` over `<timestamp>.<body>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
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
    let mut secret = String::from("whsec_");
    secret.extend(random.iter().map(|&byte| char::from(byte)));
    secret
}

impl HookSender {
    pub fn new(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        retry_base: std::time::Duration,
        attempts: u32,
        public_url: &str,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatepass/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        let public_url = public_url.trim_end_matches('/').into();
        Self { client, store, metrics, retry_base, attempts: attempts.max(1), public_url }
    }

    /// The longest a delivery can take on a live node: every attempt timing
    /// out, with the backoff between them.
    pub fn longest_delivery(&self) -> Duration {
        let backoff: Duration = (0..self.attempts - 1).map(|retry| self.retry_base * 2u32.saturating_pow(retry)).sum();
        backoff + ATTEMPT_TIMEOUT * self.attempts
    }

    /// Claims the deliveries that a stopped node left pending and delivers
    /// them again, rebuilding each payload from the stored deployment.
    /// Returns how many it took over.
    pub async fn resume_stale(&self, now: OffsetDateTime) -> StoreResult<usize> {
        let stale_before = now - (self.longest_delivery() + STALE_CLAIM_MARGIN);
        let mut resumed = 0;
        loop {
            let claimed = self.store.claim_stale_hook_deliveries(stale_before, now, CLAIM_BATCH).await?;
            for deployment in &claimed {
                let project = self.store.find_project(deployment.project_id).await?;
                match project.and_then(|project| Some((project.deploy_hook.clone()?, project))) {
                    Some((hook, project)) => {
                        let environment = self.store.find_environment(deployment.environment_id).await?;
                        tracing::info!(deployment = %deployment.id, "resuming a deploy hook delivery a stopped node left pending");
                        self.dispatch(deployment, hook, &project, environment.map(|environment| environment.name));
                    }
                    None => {
                        // The project or its hook was removed since: nowhere to deliver.
                        self.store.set_hook_status(deployment.id, HookStatus::Failed).await?;
                    }
                }
                bump(&self.metrics.hook_deliveries_resumed);
                resumed += 1;
            }
            if claimed.len() < CLAIM_BATCH as usize {
                return Ok(resumed);
            }
        }
    }

    /// Delivers the `deployment.created` event of `deployment` to `hook` in
    /// the background.
    pub fn dispatch(&self, deployment: &Deployment, hook: DeployHook, project: &Project, environment: Option<String>) {
        let sender = self.clone();
        let id = deployment.id;
        let payload = deployment_created(&DeploymentView::new(deployment, environment), project, &self.public_url);
        tokio::spawn(async move {
            let body = payload.to_string().into_bytes();
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

/// The `deployment.created` event a hook receives, with where its runner
/// reports the deployment's states (with a `deploy` token of its own).
fn deployment_created(view: &DeploymentView, project: &Project, public_url: &str) -> serde_json::Value {
    json!({
        "event": "deployment.created",
        "deployment_id": view.id,
        "status_url": format!("{public_url}/v1/deployments/{}/statuses", view.id),
        "deployment": view,
        "project": { "id": project.id, "slug": project.slug, "name": project.name },
    })
}

/// Looks for stale deliveries at start and then every `interval`, until shutdown.
pub fn spawn_stale_delivery_sweeper(
    hooks: HookSender,
    clock: Arc<Clock>,
    interval: Duration,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    spawn_every(interval, shutdown, OnShutdown::Stop, move || {
        let (hooks, now) = (hooks.clone(), clock.now());
        async move {
            if let Err(err) = hooks.resume_stale(now).await {
                tracing::warn!(error = %err, "could not look for stale deploy hook deliveries");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use gatepass_store_sqlite::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn the_longest_delivery_is_every_attempt_timing_out_plus_the_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_dir(dir.path()).await.unwrap());
        let sender = HookSender::new(store, Arc::default(), Duration::from_secs(1), 5, "http://127.0.0.1:8080");
        assert_eq!(sender.longest_delivery(), Duration::from_secs(1 + 2 + 4 + 8) + ATTEMPT_TIMEOUT * 5);
    }

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        let signature = sign("whsec_test", 1700000000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").unwrap();
        mac.update(b"1700000000.{}");
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signature, format!("sha256={expected}"));
    }
}
