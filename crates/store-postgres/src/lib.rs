//! The PostgreSQL backend: what `DATABASE_URL=postgres://…` selects, so that
//! several gatepass nodes can share one database.
//!
//! Every query is runtime-checked sqlx with binds (the build needs no live
//! database) and mirrors the SQLite backend's behaviour; the row types and
//! their conversions come from `gatepass-store-sql`. Unlike SQLite there is
//! no single in-process writer to lean on, so invariants that must hold
//! across nodes take row or table locks inside their transactions (see
//! `insert_token` and `create_first_user`).
//!
//! `changes` announces token changes to every node (LISTEN/NOTIFY).
//!
//! `testing` (feature `testing`) makes throwaway databases for tests.

mod changes;
mod import;
mod queries;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

pub use changes::TOKEN_CHANGES_CHANNEL;
use gatepass_store::{StoreError, StoreResult};
use sqlx::postgres::{PgPool, PgPoolOptions};

/// Read at connect: the size of each node's connection pool.
pub const MAX_CONNECTIONS_ENV: &str = "GATEPASS_PG_MAX_CONNECTIONS";
const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// How long a query waits for a connection before failing: while the
/// database is away, requests fail after this instead of queueing forever.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for the database to answer.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// A connection of its own for reading the token change log. A node
    /// whose misses fill the pool would otherwise make its log reads queue
    /// behind them, miss the cache's deadline, start the cache afresh, and
    /// so send every request to the pool: a spiral a busy node would not
    /// leave.
    change_log: PgPool,
    /// A throwaway test database, dropped with the last clone of the store.
    #[cfg(feature = "testing")]
    _test_database: Option<std::sync::Arc<testing::TestDatabase>>,
}

impl PgStore {
    /// Connects to a `postgres://…` URL and runs pending migrations (several
    /// nodes starting at once is fine: sqlx serializes them with a lock).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = pool_options(max_connections()?).connect(url).await.map_err(backend)?;
        let change_log = pool_options(1).connect_lazy_with((*pool.connect_options()).clone());
        let store = Self::new(pool, change_log);
        store.migrate().await?;
        Ok(store)
    }

    fn new(pool: PgPool, change_log: PgPool) -> Self {
        Self {
            pool,
            change_log,
            #[cfg(feature = "testing")]
            _test_database: None,
        }
    }

    /// Runs pending migrations (they also run on connect).
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::backend)
    }

    /// The connection pool, for what the traits do not cover (LISTEN/NOTIFY).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A pool of at most `max_connections`, with the timeouts every pool of a node uses.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A connection that died with the network is found out (and
        // replaced) before a query is sent on it, so a node recovers by
        // itself when the database comes back.
        .test_before_acquire(true)
}

fn max_connections() -> StoreResult<u32> {
    match std::env::var(MAX_CONNECTIONS_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MAX_CONNECTIONS),
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(StoreError::Backend(
                format!("{MAX_CONNECTIONS_ENV} must be a positive whole number, not {text:?}").into(),
            )),
        },
        Err(err) => Err(StoreError::Backend(format!("{MAX_CONNECTIONS_ENV} cannot be read: {err}").into())),
    }
}

/// Maps sqlx errors: unique violations are conflicts, the rest backend errors.
fn map_err(conflict: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |err| match err.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(conflict.to_string()),
        _ => StoreError::backend(err),
    }
}

fn backend(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}
