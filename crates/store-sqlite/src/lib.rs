//! The embedded SQLite backend: one file in the data directory, WAL mode,
//! `synchronous = FULL` so that an acknowledged write survives a crash.
//!
//! Writes go through a pool of exactly one connection, which serializes them
//! in-process: a check-then-insert inside one of its transactions (the plan
//! limit) cannot race another writer. Reads use a separate pool and never
//! wait for writes (WAL).

mod import;
mod queries;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use gatepass_store::{StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub const DATABASE_FILE: &str = "gatepass.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `gatepass.db` in `data_dir` and migrates it.
    pub async fn open_in_dir(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(StoreError::backend)?;
        Self::open_file(&data_dir.join(DATABASE_FILE)).await
    }

    pub async fn open_file(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open(options).await
    }

    /// Opens a `sqlite://…` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        Self::open(SqliteConnectOptions::from_str(url).map_err(StoreError::backend)?).await
    }

    async fn open(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::backend)?;
        MIGRATOR.run(&writer).await.map_err(StoreError::backend)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await
            .map_err(StoreError::backend)?;
        Ok(Self { reader, writer })
    }

    /// Runs pending migrations (they also run on open).
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.writer).await.map_err(StoreError::backend)
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
