//! Bulk import of token records, for seeding benchmarks and migrations from
//! other systems. It skips the plan limit on purpose: only operators call it.

use gatepass_store::{NewToken, StoreResult};

use crate::queries::insert_token_row;
use crate::{backend, SqliteStore};

impl SqliteStore {
    /// Inserts `tokens` in one transaction.
    pub async fn import_tokens(&self, tokens: &[NewToken]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        for token in tokens {
            insert_token_row(&mut tx, token).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
