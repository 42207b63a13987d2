//! What every handler shares.

use std::sync::Arc;

use gatepass_store::Store;

use crate::auth::oidc::IssuerKeys;
use crate::auth::secret_scanning::ScanningKeys;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::outbox::deploy_hook::DeployHooks;
use crate::outbox::webhooks::WebhookSender;
use crate::rate_limit::{FailureLimiter, LoginThrottle};
use crate::salt::SaltStatus;
use crate::service::labels::LabelCache;
use crate::service::pages::Cursors;
use crate::verify::TokenVerifier;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub verifier: Arc<TokenVerifier>,
    /// Failed deployment tokens and sessions per client address.
    pub limiter: FailureLimiter,
    /// Failed password logins per client address.
    pub login_limiter: FailureLimiter,
    /// Failed password logins per account.
    pub login_throttle: LoginThrottle,
    pub clock: Arc<Clock>,
    pub metrics: Arc<Metrics>,
    /// Builds deploy hook deliveries for the outbox.
    pub hooks: DeployHooks,
    /// Delivers the outbox: org webhooks and deploy hooks.
    pub webhooks: WebhookSender,
    pub salt_status: SaltStatus,
    pub labels: LabelCache,
    /// The keys that sign secret scanning alerts, fetched when first needed.
    pub scanning_keys: ScanningKeys,
    /// The keys of OIDC issuers that trust policies name, fetched when needed.
    pub oidc_keys: IssuerKeys,
    /// Signs and checks the cursors of paged lists.
    pub cursors: Cursors,
    /// When each token's last use from outside its allow list was audited.
    pub ip_denials: crate::auth::ip_denials::IpDenials,
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
