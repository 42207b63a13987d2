//! Starting and stopping a server: open the store, check the salt, bind,
//! serve until shutdown, flush what is pending.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use gatepass_store::Store;
use gatepass_store_sqlite::SqliteStore;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

use crate::auth::secret_scanning::ScanningKeys;
use crate::clock::Clock;
use crate::config::{DatabaseConfig, ServerConfig};
use crate::last_used::LastUsed;
use crate::limits::MAX_BODY_BYTES;
use crate::metrics::Metrics;
use crate::outbox::deploy_hook::DeployHooks;
use crate::outbox::webhooks::{spawn_worker, WebhookSender};
use crate::periodic::{spawn_every, OnShutdown};
use crate::rate_limit::{FailureLimiter, LoginThrottle};
use crate::salt::check_salt;
use crate::service::deployments::time_out_overdue;
use crate::service::pages::Cursors;
use crate::state::{AppState, Shared};
use crate::verify::coherence::{self, Follower};
use crate::verify::{TokenVerifier, Trust};

/// Opens the configured backend, running migrations.
pub async fn open_store(database: &DatabaseConfig) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        DatabaseConfig::SqliteDir(dir) => {
            let store = SqliteStore::open_in_dir(dir)
                .await
                .with_context(|| format!("cannot open the SQLite database in {}", dir.display()))?;
            Ok(Arc::new(store))
        }
        DatabaseConfig::Url(url) if url.starts_with("sqlite:") => {
            Ok(Arc::new(SqliteStore::open_url(url).await.context("cannot open the SQLite database")?))
        }
        DatabaseConfig::Url(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
            let store =
                gatepass_store_postgres::PgStore::connect(url).await.context("cannot open the PostgreSQL database")?;
            Ok(Arc::new(store))
        }
        DatabaseConfig::Url(url) => {
            let scheme = url.split(':').next().unwrap_or_default();
            anyhow::bail!("unsupported DATABASE_URL scheme {scheme:?}: use postgres://… or sqlite://… (or leave DATABASE_URL unset for the embedded SQLite)")
        }
    }
}

pub fn router(state: AppState) -> axum::Router {
    crate::api::router()
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A server bound to its address and serving in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The background tasks: last-used flusher, deploy timeout sweeper,
    /// the outbox worker (webhooks and deploy hooks), the expiry reminder
    /// sweeper, and the token change log follower.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    pub async fn start(config: ServerConfig) -> anyhow::Result<Self> {
        let store = open_store(&config.database).await?;
        Self::start_with_store(config, store).await
    }

    pub async fn start_with_store(config: ServerConfig, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let salt_status = check_salt(store.as_ref(), &config.salt, config.previous_salt.as_ref()).await?;
        if config.oidc_allow_http {
            tracing::warn!(
                "GATEPASS_OIDC_ALLOW_HTTP is set: OIDC issuers may use plain http://, which anyone on the path \
                 can impersonate; use it for local testing only"
            );
        }
        // Bound first: with port 0, the address runners are told comes from here.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let metrics = Arc::new(Metrics::default());
        let last_used = Arc::new(LastUsed::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        // On a database other nodes share, the caches are trusted only while
        // this node follows the token change log; subscribe before reading
        // its head, so no change falls between the two.
        let change_signals = store.subscribe_token_changes().await?;
        let trust = if change_signals.is_some() { Trust::until_synced() } else { Trust::always() };
        let verifier = Arc::new(
            TokenVerifier::new(
                config.salt.clone(),
                store.clone(),
                last_used,
                metrics.clone(),
                config.verify_cache,
                trust,
            )
            .with_previous_salt(config.previous_salt.clone()),
        );
        let flusher = verifier.clone().spawn_last_used_flusher(config.last_used_flush, shutdown_rx.clone());
        let change_follower = match change_signals {
            Some(signals) => {
                let follower = Follower::start(verifier.clone(), store.clone()).await?;
                // Without wake-ups (behind a transaction pooler that cannot
                // LISTEN) the log is still read every 250 ms.
                let signals = config.token_change_notifications.then_some(signals);
                Some(coherence::spawn(follower, signals, shutdown_rx.clone()))
            }
            None => None,
        };
        let cursors = Cursors::load(store.as_ref()).await?;
        let clock = Arc::new(Clock::default());
        let webhooks = WebhookSender::new(store.clone(), metrics.clone(), clock.clone(), config.webhook_allow_private);
        let state = AppState::new(Shared {
            cursors,
            ip_denials: Default::default(),
            verifier,
            limiter: FailureLimiter::new(config.auth_failures_per_minute, config.rate_limit_tracked_keys),
            login_limiter: FailureLimiter::new(config.auth_failures_per_minute, config.rate_limit_tracked_keys),
            login_throttle: LoginThrottle::new(config.rate_limit_tracked_keys),
            clock,
            webhooks,
            hooks: DeployHooks::new(&public_url),
            metrics,
            salt_status,
            labels: Default::default(),
            scanning_keys: ScanningKeys::new(&config.secret_scanning_keys_url),
            oidc_keys: crate::auth::oidc::IssuerKeys::new(config.oidc_allow_http),
            store,
            config,
        });
        let timeout_sweeper = spawn_deploy_timeout_sweeper(state.clone(), shutdown_rx.clone());
        let webhook_worker =
            spawn_worker(state.webhooks.clone(), state.config.webhook_poll_interval, shutdown_rx.clone());
        let expiry_sweeper = spawn_expiry_reminder_sweeper(state.clone(), shutdown_rx.clone());
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let mut stop = shutdown_rx;
        let serving = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await
        });
        let background =
            [Some(flusher), Some(timeout_sweeper), Some(webhook_worker), Some(expiry_sweeper), change_follower];
        Ok(Self { addr, state, shutdown, serving, background: background.into_iter().flatten().collect() })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, writes pending last-used times.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.serving.await??;
        for task in self.background {
            task.await?;
        }
        Ok(())
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

fn spawn_deploy_timeout_sweeper(state: AppState, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let interval = state.config.deploy_timeout_sweep_interval;
    spawn_every(interval, shutdown, OnShutdown::Stop, move || {
        let state = state.clone();
        async move {
            if let Err(err) = time_out_overdue(&state).await {
                tracing::warn!(error = %err, "could not look for deployments past their deploy timeout");
            }
        }
    })
}

fn spawn_expiry_reminder_sweeper(state: AppState, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let interval = state.config.expiry_sweep_interval;
    spawn_every(interval, shutdown, OnShutdown::Stop, move || {
        let state = state.clone();
        async move {
            if let Err(err) = crate::service::webhooks::send_expiry_reminders(&state).await {
                tracing::warn!(error = %err, "could not send token expiry reminders");
            }
            if let Err(err) = crate::service::webhooks::prune_deliveries(&state).await {
                tracing::warn!(error = %err, "could not prune old webhook deliveries");
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
