//! Org webhooks and deploy hooks, delivered as the Standard Webhooks
//! specification says: the one outbox of gatepass.
//!
//! Every event is written to the outbox (`webhook_deliveries`) in the same
//! transaction as its audit event, one row per subscribed endpoint; every
//! deployment of a project with a deploy hook, with the deployment. Each
//! node runs a [`spawn_worker`] loop that claims due rows (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so each is taken by one node), sends them, and
//! records the attempt with what follows: delivered, a retry on the
//! schedule, given up, or the endpoint disabled (410 Gone). A claim lasts a
//! little longer than one attempt can take; a node that stops mid-attempt
//! lets its claims run out, and any node takes them over. Delivery is
//! therefore at least once: receivers deduplicate on `webhook-id`, which is
//! the same on every attempt.
//!
//! Headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed by the base64-decoded part of the secret after `whsec_`; while a
//! rotated secret overlaps, one signature per secret, space-separated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatepass_store::{AfterAttempt, Delivery, DeliveryAttempt, DeliveryTarget, Store, StoreResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use super::ssrf::{self, GuardedResolver};
use crate::clock::Clock;
use crate::metrics::{bump, Metrics};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// WARNING: receivers' verification libraries expect this prefix; never change it.
pub const SECRET_PREFIX: &str = "whsec_";

/// How long one attempt may take before it counts as failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// Slack on top of an attempt before its claim runs out: for clocks of
/// different nodes and a store that answers slowly.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);
/// Deliveries claimed per round trip.
const CLAIM_BATCH: u32 = 50;

/// The wait after each failed attempt, as Standard Webhooks suggests: the
/// first retry within 10 s, the last about 27 h after the event.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// A fresh signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(gatepass_core::webhook::new_signing_key()))
}

/// The HMAC key of a secret: the base64 after `whsec_` decoded (a secret
/// that is not base64 is used as its bytes).
fn key_of(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD.decode(encoded).unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

/// `v1,<base64>` for each secret, space-separated.
pub fn sign(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key_of(secret)) else {
                unreachable!("HMAC takes keys of any length")
            };
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect();
    signatures.join(" ")
}

/// What follows attempt number `attempts` (1 for the first) that failed.
pub fn after_failure(attempts: u32, now: OffsetDateTime) -> AfterAttempt {
    match RETRY_SCHEDULE.get(attempts.saturating_sub(1) as usize) {
        Some(wait) => AfterAttempt::RetryAt(now + *wait),
        None => AfterAttempt::GiveUp,
    }
}

#[derive(Clone)]
pub struct WebhookSender {
    /// For org webhooks: refuses private addresses unless allowed.
    client: reqwest::Client,
    /// For deploy hooks, which may reach the team's own network.
    hook_client: reqwest::Client,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: Arc<Clock>,
    wake: Arc<Notify>,
    allow_private: bool,
}

impl WebhookSender {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, clock: Arc<Clock>, allow_private: bool) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("gatepass/", env!("CARGO_PKG_VERSION")))
        };
        let client = match allow_private {
            true => builder(),
            false => builder().dns_resolver(Arc::new(GuardedResolver)),
        };
        let client = client.build().expect("HTTP client");
        let hook_client = builder().build().expect("HTTP client");
        Self { client, hook_client, store, metrics, clock, wake: Arc::new(Notify::new()), allow_private }
    }

    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// Tells this node's worker that deliveries were queued, so they go out
    /// now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims what is due and sends it, until nothing due is left. Returns
    /// how many attempts it made.
    pub async fn deliver_due(&self) -> StoreResult<usize> {
        let mut made = 0;
        loop {
            let now = self.clock.now();
            let claim_until = now + (ATTEMPT_TIMEOUT + CLAIM_MARGIN);
            let claimed = self.store.claim_due_deliveries(now, claim_until, CLAIM_BATCH).await?;
            let count = claimed.len();
            let attempts = claimed.into_iter().map(|(delivery, target)| self.attempt(delivery, target));
            for result in futures_util::future::join_all(attempts).await {
                result?;
            }
            made += count;
            if count < CLAIM_BATCH as usize {
                return Ok(made);
            }
        }
    }

    /// One attempt at `delivery`, recorded with what follows it.
    async fn attempt(&self, delivery: Delivery, target: DeliveryTarget) -> StoreResult<()> {
        let started = Instant::now();
        let at = self.clock.now();
        let is_hook = matches!(target, DeliveryTarget::DeployHook(_));
        let outcome = self.send(&delivery, &target, at).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let attempts = delivery.attempts + 1;
        let (status_code, error, after) = match outcome {
            Ok(status) if (200..300).contains(&status) => (Some(status), None, AfterAttempt::Delivered),
            Ok(410) if !is_hook => {
                let reason = "the endpoint answered 410 Gone".to_string();
                (Some(410), None, AfterAttempt::DisableEndpoint { reason })
            }
            Ok(status) => (Some(status), None, after_failure(attempts, self.clock.now())),
            // Nowhere to send it: retrying would not help.
            Err(Unsendable::Never(error)) => (None, Some(error), AfterAttempt::GiveUp),
            Err(Unsendable::Now(error)) => (None, Some(error), after_failure(attempts, self.clock.now())),
        };
        match &after {
            AfterAttempt::Delivered => bump(&self.metrics.webhook_attempts_ok),
            AfterAttempt::RetryAt(_) => bump(&self.metrics.webhook_attempts_failed),
            AfterAttempt::GiveUp | AfterAttempt::DisableEndpoint { .. } => {
                bump(&self.metrics.webhook_attempts_failed);
                bump(&self.metrics.webhook_deliveries_given_up);
            }
        }
        if is_hook {
            match &after {
                AfterAttempt::Delivered => bump(&self.metrics.hook_deliveries_ok),
                AfterAttempt::RetryAt(_) => {}
                AfterAttempt::GiveUp | AfterAttempt::DisableEndpoint { .. } => {
                    bump(&self.metrics.hook_deliveries_failed)
                }
            }
        }
        if !matches!(after, AfterAttempt::Delivered) {
            tracing::warn!(delivery = %delivery.id, event = %delivery.event_type, attempt = attempts,
                status = ?status_code, error = error.as_deref().unwrap_or(""), next = ?after, "delivery attempt failed");
        }
        let attempt = DeliveryAttempt { at, status_code, duration_ms, error };
        self.store.finish_attempt(delivery.id, &attempt, &after).await
    }

    /// Sends once; the status code, or why there is none.
    async fn send(&self, delivery: &Delivery, target: &DeliveryTarget, now: OffsetDateTime) -> Result<u16, Unsendable> {
        let (client, url, secrets) = match target {
            DeliveryTarget::Webhook(webhook) => {
                let url = ssrf::check_form(&webhook.url).map_err(|err| Unsendable::Never(err.to_string()))?;
                if !self.allow_private {
                    ssrf::check_literal(&url).map_err(|err| Unsendable::Now(err.to_string()))?;
                }
                (&self.client, url, webhook.signing_secrets(now))
            }
            DeliveryTarget::DeployHook(Some(hook)) => {
                let url = reqwest::Url::parse(&hook.url).map_err(|err| Unsendable::Never(err.to_string()))?;
                (&self.hook_client, url, vec![hook.secret.as_str()])
            }
            DeliveryTarget::DeployHook(None) => {
                return Err(Unsendable::Never("the project has no deploy hook any more".into()));
            }
        };
        let timestamp = now.unix_timestamp();
        let id = delivery.id.as_str();
        let signature = sign(&secrets, id, timestamp, delivery.body.as_bytes());
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header(ID_HEADER, id)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|err| Unsendable::Now(describe(err)))?;
        Ok(response.status().as_u16())
    }
}

/// Why an attempt got no answer.
enum Unsendable {
    /// Worth retrying: a timeout, a refused connection, a refused address.
    Now(String),
    /// Never sendable as it stands: a malformed URL, a hook removed.
    Never(String),
}

/// A send error as the deliveries list shows it: what happened, with the
/// guard's reason when it refused the address.
fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs());
    }
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<ssrf::UrlRefused>() {
            return refused.to_string();
        }
        source = cause.source();
    }
    if err.is_connect() {
        "could not connect".to_string()
    } else {
        "the request failed".to_string()
    }
}

/// Delivers what is due at start, whenever this node queues something, and
/// every `poll` (for other nodes' events and retries), until shutdown.
pub fn spawn_worker(
    sender: WebhookSender,
    poll: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = sender.deliver_due().await {
                tracing::warn!(error = %err, "could not deliver webhooks");
            }
            tokio::select! {
                _ = sender.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and its
    /// reference libraries' tests).
    #[test]
    fn the_signature_matches_the_specifications_test_vector() {
        let signature = sign(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotated_secret_signs_alongside_the_new_one() {
        let both = sign(&["whsec_AAAA", "whsec_BBBB"], "msg_1", 1, b"{}");
        let signatures: Vec<&str> = both.split(' ').collect();
        assert_eq!(signatures, [sign(&["whsec_AAAA"], "msg_1", 1, b"{}"), sign(&["whsec_BBBB"], "msg_1", 1, b"{}")]);
    }

    #[test]
    fn new_secrets_hold_32_random_bytes() {
        let secret = new_secret();
        assert_eq!(STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap().len(), 32);
        assert_ne!(secret, new_secret());
    }

    #[test]
    fn retries_start_within_10_seconds_and_last_over_24_hours() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(matches!(after_failure(1, now), AfterAttempt::RetryAt(at) if at - now <= time::Duration::seconds(10)));
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total >= Duration::from_secs(24 * 3600));
        assert_eq!(after_failure(RETRY_SCHEDULE.len() as u32 + 1, now), AfterAttempt::GiveUp);
    }
}
