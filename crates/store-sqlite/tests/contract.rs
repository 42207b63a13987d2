//! The store contract, run against SQLite.

use std::sync::Arc;

use gatepass_store::contract::SharedStore;
use gatepass_store_sqlite::SqliteStore;

async fn fresh_store() -> SharedStore {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("contract-{}", gatepass_core::id::OrgId::generate()));
    Arc::new(SqliteStore::open_in_dir(&dir).await.expect("open SQLite store"))
}

gatepass_store::store_contract_tests!(fresh_store().await);
