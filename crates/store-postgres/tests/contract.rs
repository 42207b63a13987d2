//! The store contract, run against PostgreSQL: one fresh database per test,
//! skipped (loudly) when no server is reachable and GATEPASS_TEST_POSTGRES is
//! unset.

use std::sync::Arc;

use gatepass_store::contract::SharedStore;
use gatepass_store_postgres::testing::TestDatabase;

async fn fresh_store() -> Option<SharedStore> {
    let database = TestDatabase::create().await?;
    Some(Arc::new(database.into_store().await))
}

gatepass_store::store_contract_tests!(match fresh_store().await {
    Some(store) => store,
    None => return,
});
