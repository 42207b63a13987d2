//! What every handler shares.

use std::sync::Arc;

use gatepass_store::Store;

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::hooks::HookSender;
use crate::labels::LabelCache;
use crate::last_used::LastUsed;
use crate::metrics::Metrics;
use crate::rate_limit::FailureLimiter;
use crate::verify::TokenVerifier;

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

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub verifier: TokenVerifier,
    pub limiter: FailureLimiter,
    pub clock: Arc<Clock>,
    pub metrics: Arc<Metrics>,
    pub last_used: Arc<LastUsed>,
    pub hooks: HookSender,
    pub salt_status: SaltStatus,
    pub labels: LabelCache,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
