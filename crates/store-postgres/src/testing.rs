//! Throwaway PostgreSQL databases for tests (feature `testing`): each test gets
//! a fresh, randomly named database on the server at `GATEPASS_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432`), dropped again when the
//! [`TestDatabase`] — or the last clone of a store made from it — goes away.
//!
//! When that server cannot be reached, [`TestDatabase::create`] prints a loud
//! `SKIPPED` line and returns `None`, so that a laptop without PostgreSQL can
//! still run the workspace's tests. With `GATEPASS_TEST_POSTGRES` set (as CI
//! does) it panics instead: a suite that must run against PostgreSQL cannot
//! then pass by skipping.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use url::Url;

use crate::PgStore;

/// The server to create test databases on; any database in its path is ignored.
pub const URL_ENV: &str = "GATEPASS_TEST_POSTGRES_URL";
/// When set, an unreachable server fails the test instead of skipping it.
pub const REQUIRED_ENV: &str = "GATEPASS_TEST_POSTGRES";
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A fresh, empty database that is dropped (`WITH (FORCE)`, closing whatever
/// is still connected) when this value is.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates the database, or returns `None` after printing `SKIPPED` when
    /// the server is unreachable and `GATEPASS_TEST_POSTGRES` is unset.
    ///
    /// # Panics
    /// When the server is unreachable and `GATEPASS_TEST_POSTGRES` is set, or
    /// when it is reachable but the database cannot be created.
    pub async fn create() -> Option<Self> {
        let base = std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_string());
        let base = Url::parse(&base).unwrap_or_else(|err| panic!("{URL_ENV} is not a URL ({err}): {base:?}"));
        let admin_url = with_database(&base, "postgres");
        let mut admin = match connect(&admin_url).await {
            Ok(admin) => admin,
            Err(err) if std::env::var_os(REQUIRED_ENV).is_some() => {
                panic!("PostgreSQL not reachable at {} ({err}), and {REQUIRED_ENV} is set", redacted(&base))
            }
            Err(err) => {
                eprintln!(
                    "\n==========\nSKIPPED: PostgreSQL not reachable at {} ({err}).\n\
                     Set {REQUIRED_ENV}=1 to make this a failure, {URL_ENV} to use another server.\n==========\n",
                    redacted(&base)
                );
                return None;
            }
        };
        // Lowercase letters, digits and `_` only, so it needs no escaping.
        let name = format!("gatepass_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
        let _ = admin.close().await;
        Some(Self { url: with_database(&base, &name), name, admin_url })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the database, for a server under test (`DATABASE_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connected, migrated store on this database. The store keeps the
    /// database alive: it is dropped with the store's last clone.
    ///
    /// # Panics
    /// When the store cannot connect or migrate.
    pub async fn into_store(self) -> PgStore {
        let mut store = PgStore::connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("cannot open test database {}: {err}", self.name));
        store._test_database = Some(Arc::new(self));
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside a Tokio runtime, where blocking on a future
        // panics, or outside any; a thread with a runtime of its own works
        // in both. Joining it means the database is gone when drop returns.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || -> Result<(), Error> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin).await?;
                let _ = admin.close().await;
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("warning: test database {} was not dropped: {err}", self.name),
            Err(_) => eprintln!("warning: test database {} was not dropped: the dropping thread panicked", self.name),
        }
    }
}

async fn connect(url: &str) -> Result<PgConnection, Error> {
    Ok(tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await??)
}

fn with_database(base: &Url, database: &str) -> String {
    let mut url = base.clone();
    url.set_path(database);
    url.to_string()
}

/// The URL without its password, for messages.
fn redacted(url: &Url) -> Url {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url
}
