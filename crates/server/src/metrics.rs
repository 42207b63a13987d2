//! Counters for `/metrics`, in the Prometheus text format. Plain atomics,
//! and a [`SpreadCounter`] for the count every verified request bumps:
//! counting costs the verify path one relaxed add to a cache line no other
//! thread writes.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::verify::RejectReason;

/// Why an authentication failed, as `/metrics` counts it (never told to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// A deployment token rejected for this reason.
    Token(RejectReason),
    /// A session credential that opens no session.
    Session,
    /// A wrong email or password.
    Password,
}

impl AuthFailure {
    const ALL: [AuthFailure; 7] = [
        AuthFailure::Token(RejectReason::Malformed),
        AuthFailure::Token(RejectReason::Unknown),
        AuthFailure::Token(RejectReason::Revoked),
        AuthFailure::Token(RejectReason::Expired),
        AuthFailure::Token(RejectReason::Superseded),
        AuthFailure::Session,
        AuthFailure::Password,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|reason| *reason == self).unwrap_or(0)
    }

    fn label(self) -> &'static str {
        match self {
            AuthFailure::Token(reason) => reason.as_str(),
            AuthFailure::Session => "session",
            AuthFailure::Password => "password",
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Failed authentications by [`AuthFailure`], in `AuthFailure::ALL` order.
    auth_failures: [AtomicU64; 7],
    /// Failing credentials refused with 429 because their address (or
    /// account) failed too often.
    pub auth_rate_limited: AtomicU64,
    pub verify_ok: SpreadCounter,
    pub verify_rejected: AtomicU64,
    /// Verifications that read the database (cache misses and renewals).
    pub verify_store_reads: AtomicU64,
    pub tokens_created: AtomicU64,
    pub tokens_revoked: AtomicU64,
    pub tokens_rotated: AtomicU64,
    /// Tokens re-digested under the current salt on their first use.
    pub tokens_rehashed: AtomicU64,
    /// Valid tokens refused because the request came from outside their allow list.
    pub ip_not_allowed: AtomicU64,
    pub deployments_created: AtomicU64,
    pub hook_deliveries_ok: AtomicU64,
    pub hook_deliveries_failed: AtomicU64,
    pub webhook_attempts_ok: AtomicU64,
    pub webhook_attempts_failed: AtomicU64,
    pub webhook_deliveries_given_up: AtomicU64,
    pub last_used_flushes: AtomicU64,
    pub last_used_rows_written: AtomicU64,
}

impl Metrics {
    pub fn auth_failure(&self, reason: AuthFailure) {
        bump(&self.auth_failures[reason.index()]);
    }

    pub fn auth_failures(&self, reason: AuthFailure) -> u64 {
        self.auth_failures[reason.index()].load(Ordering::Relaxed)
    }
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Slots of a [`SpreadCounter`]: more than the worker threads of most
/// servers, so threads rarely share one.
const SPREAD_SLOTS: usize = 16;

/// One slot of a [`SpreadCounter`], alone on its cache lines (two lines:
/// some CPUs fetch lines in adjacent pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

/// A counter that every request bumps, split into per-thread slots so that
/// threads counting at once do not pass one cache line back and forth
/// between their cores (a plain atomic does, on every add).
#[derive(Debug, Default)]
pub struct SpreadCounter {
    slots: [Slot; SPREAD_SLOTS],
}

impl SpreadCounter {
    pub fn bump(&self) {
        thread_local! {
            /// This thread's slot, handed out in turn as threads first count.
            static SLOT: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % SPREAD_SLOTS
            };
        }
        let slot = SLOT.with(|slot| *slot);
        self.slots[slot].0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A counter's value, whatever it is kept in.
pub trait CounterValue {
    fn value(&self) -> u64;
}

impl CounterValue for AtomicU64 {
    fn value(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
}

impl CounterValue for SpreadCounter {
    fn value(&self) -> u64 {
        self.slots.iter().map(|slot| slot.0.load(Ordering::Relaxed)).sum()
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, &dyn CounterValue)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, counted) in samples {
                let _ = writeln!(out, "{name}{labels} {}", counted.value());
            }
        };
        counter(
            "gatepass_token_verifications_total",
            "Deployment token verifications by result.",
            &[("{result=\"ok\"}", &self.verify_ok), ("{result=\"rejected\"}", &self.verify_rejected)],
        );
        let failures: Vec<(String, &AtomicU64)> = AuthFailure::ALL
            .iter()
            .map(|reason| (format!("{{reason=\"{}\"}}", reason.label()), &self.auth_failures[reason.index()]))
            .collect();
        let failures: Vec<(&str, &dyn CounterValue)> =
            failures.iter().map(|(labels, counted)| (labels.as_str(), *counted as &dyn CounterValue)).collect();
        counter("gatepass_auth_failures_total", "Failed authentications by reason.", &failures);
        counter(
            "gatepass_auth_rate_limited_total",
            "Failing credentials refused with 429 because their address or account failed too often.",
            &[("", &self.auth_rate_limited)],
        );
        counter(
            "gatepass_token_verification_store_reads_total",
            "Database reads made by verification: cache misses and renewals, not one per request.",
            &[("", &self.verify_store_reads)],
        );
        counter(
            "gatepass_token_changes_total",
            "Token lifecycle changes.",
            &[
                ("{change=\"created\"}", &self.tokens_created),
                ("{change=\"rotated\"}", &self.tokens_rotated),
                ("{change=\"revoked\"}", &self.tokens_revoked),
                ("{change=\"rehashed\"}", &self.tokens_rehashed),
            ],
        );
        counter(
            "gatepass_token_ip_not_allowed_total",
            "Valid tokens refused with 403 because the request came from outside their allow list.",
            &[("", &self.ip_not_allowed)],
        );
        counter("gatepass_deployments_created_total", "Deployments recorded.", &[("", &self.deployments_created)]);
        counter(
            "gatepass_deploy_hook_deliveries_total",
            "Deploy hook deliveries by outcome.",
            &[
                ("{outcome=\"delivered\"}", &self.hook_deliveries_ok),
                ("{outcome=\"failed\"}", &self.hook_deliveries_failed),
            ],
        );
        counter(
            "gatepass_webhook_attempts_total",
            "Webhook delivery attempts by outcome.",
            &[
                ("{outcome=\"delivered\"}", &self.webhook_attempts_ok),
                ("{outcome=\"failed\"}", &self.webhook_attempts_failed),
            ],
        );
        counter(
            "gatepass_webhook_deliveries_failed_total",
            "Webhook deliveries given up: the retry schedule ran out or the endpoint is gone.",
            &[("", &self.webhook_deliveries_given_up)],
        );
        counter("gatepass_last_used_flushes_total", "Batched last-used writes.", &[("", &self.last_used_flushes)]);
        counter(
            "gatepass_last_used_rows_written_total",
            "Token rows updated by last-used flushes (not one per request).",
            &[("", &self.last_used_rows_written)],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_counter_counts_every_bump_from_every_thread() {
        let counter = SpreadCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..SPREAD_SLOTS + 3 {
                scope.spawn(|| (0..1000).for_each(|_| counter.bump()));
            }
        });
        counter.bump();
        assert_eq!(counter.value(), (SPREAD_SLOTS as u64 + 3) * 1000 + 1);
        let metrics = Metrics::default();
        metrics.verify_ok.bump();
        assert!(metrics.render().contains("gatepass_token_verifications_total{result=\"ok\"} 1\n"));
    }
}
