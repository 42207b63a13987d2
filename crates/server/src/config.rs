//! Server configuration, from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use gatepass_core::token::{SaltError, TokenSalt, SALT_ENV, SALT_FILE_ENV, SALT_PREVIOUS_ENV, SALT_PREVIOUS_FILE_ENV};

/// Where GitHub publishes the keys that sign its secret scanning alerts.
pub const DEFAULT_SECRET_SCANNING_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// The embedded default: `gatepass.db` in this directory.
    SqliteDir(PathBuf),
    /// `sqlite://…` or `postgres://…`.
    Url(String),
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database: DatabaseConfig,
    /// The HMAC key for token digests, or why there is none.
    pub salt: Result<TokenSalt, SaltError>,
    /// During a salt rotation, the salt being rotated away from
    /// (`ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS`): digests it made still verify and
    /// are re-made under `salt` on first use. `None` when not set.
    pub previous_salt: Option<TokenSalt>,
    /// How long a login session lasts.
    pub session_ttl: time::Duration,
    /// How often coalesced last-used times are written.
    pub last_used_flush: std::time::Duration,
    /// Failed authentications per client address per minute before 429.
    pub auth_failures_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted
    /// proxy): the right-most hop outside `trusted_proxies`.
    pub trust_forwarded_for: bool,
    /// Proxies in front of gatepass whose own addresses appear in
    /// `X-Forwarded-For` (a chain of proxies); skipped from the right.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Whether this node listens for other nodes' token changes (PostgreSQL
    /// NOTIFY) besides reading the change log every 250 ms. Off behind a
    /// transaction pooler, which cannot LISTEN.
    pub token_change_notifications: bool,
    /// How many tokens the verifier's caches keep at most.
    pub verify_cache: crate::verify::CacheSizes,
    /// Client addresses (and accounts) each rate limiter tracks at most.
    pub rate_limit_tracked_keys: usize,
    /// The URL clients use to reach this server: for CI export blocks and the
    /// `status_url` of deploy hook events (default: the listen address).
    pub public_url: Option<String>,
    /// The keys document that signs secret scanning alerts
    /// (`POST /v1/secret-scanning/github`).
    pub secret_scanning_keys_url: String,
    /// How often this node fails deployments left `in_progress` past their
    /// project's deploy timeout (see [`crate::service::deployments::time_out_overdue`]).
    pub deploy_timeout_sweep_interval: std::time::Duration,
    /// Trust `http://` OIDC issuers (`GATEPASS_OIDC_ALLOW_HTTP=1`): for
    /// local testing only, logged as a warning at start.
    pub oidc_allow_http: bool,
    /// Deliver webhooks to loopback, private, link-local and metadata
    /// addresses too (`GATEPASS_WEBHOOK_ALLOW_PRIVATE=1`): for receivers on
    /// the same host or network, never on a shared instance.
    pub webhook_allow_private: bool,
    /// How often this node looks for outbox deliveries that are due (its
    /// own events wake it at once; other nodes', retries and deliveries a
    /// stopped node left behind wait for this).
    pub webhook_poll_interval: std::time::Duration,
    /// How often this node sends due `token.expiring` reminders (at start too).
    pub expiry_sweep_interval: std::time::Duration,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, database: DatabaseConfig, salt: Result<TokenSalt, SaltError>) -> Self {
        Self {
            listen,
            database,
            salt,
            previous_salt: None,
            session_ttl: time::Duration::days(14),
            last_used_flush: std::time::Duration::from_secs(30),
            auth_failures_per_minute: 30,
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            rate_limit_tracked_keys: crate::rate_limit::DEFAULT_TRACKED_KEYS,
            verify_cache: crate::verify::CacheSizes::default(),
            token_change_notifications: true,
            public_url: None,
            secret_scanning_keys_url: DEFAULT_SECRET_SCANNING_KEYS_URL.to_string(),
            deploy_timeout_sweep_interval: std::time::Duration::from_secs(60),
            oidc_allow_http: false,
            webhook_allow_private: false,
            webhook_poll_interval: std::time::Duration::from_secs(1),
            expiry_sweep_interval: std::time::Duration::from_secs(3600),
        }
    }
}

/// Reads the salt from `ML_DEPLOYMENT_TOKEN_SALT`, else from the file named by
/// `ML_DEPLOYMENT_TOKEN_SALT_FILE` (one trailing newline is ignored).
pub fn salt_from_env() -> Result<TokenSalt, SaltError> {
    if let Some(value) = std::env::var_os(SALT_ENV).filter(|v| !v.is_empty()) {
        return TokenSalt::new(value.as_encoded_bytes());
    }
    match std::env::var_os(SALT_FILE_ENV).filter(|v| !v.is_empty()) {
        Some(path) => salt_from_file(&PathBuf::from(path)),
        None => Err(SaltError::Missing),
    }
}

/// Reads the previous salt of a rotation from `ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS`,
/// else from the file named by `ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS_FILE`; `Ok(None)`
/// when neither is set. A set but unusable one is an error: starting without
/// it would strand every token still digested under it.
pub fn previous_salt_from_env() -> Result<Option<TokenSalt>, SaltError> {
    if let Some(value) = std::env::var_os(SALT_PREVIOUS_ENV).filter(|v| !v.is_empty()) {
        return TokenSalt::new(value.as_encoded_bytes()).map(Some);
    }
    match std::env::var_os(SALT_PREVIOUS_FILE_ENV).filter(|v| !v.is_empty()) {
        Some(path) => salt_from_file(&PathBuf::from(path)).map(Some),
        None => Ok(None),
    }
}

pub fn salt_from_file(path: &std::path::Path) -> Result<TokenSalt, SaltError> {
    let bytes = std::fs::read(path)
        .map_err(|err| SaltError::Unreadable { path: path.display().to_string(), reason: err.kind().to_string() })?;
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    TokenSalt::new(trimmed)
}
