//! Bulk import of token records, for seeding benchmarks and migrations from
//! other systems. It skips the plan limit on purpose: only operators call it.

use gatepass_store::{to_millis, NewToken, StoreResult};
use gatepass_store_sql::reach_columns;

use crate::{backend, SqliteStore};

impl SqliteStore {
    /// Inserts `tokens` in one transaction.
    pub async fn import_tokens(&self, tokens: &[NewToken]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        for token in tokens {
            let (level, project, environment) = reach_columns(token.reach);
            sqlx::query(
                "INSERT INTO tokens (id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
                 created_by_id, created_by_label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(token.id.as_str())
            .bind(token.org_id.as_str())
            .bind(&token.name)
            .bind(level)
            .bind(project)
            .bind(environment)
            .bind(token.scopes.to_list_string())
            .bind(&token.preview)
            .bind(&token.digest.as_bytes()[..])
            .bind(&token.created_by.id)
            .bind(&token.created_by.label)
            .bind(to_millis(token.created_at))
            .bind(token.expires_at.map(to_millis))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
