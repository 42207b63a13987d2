//! Bulk import of token records, for seeding benchmarks and migrations from
//! other systems. It skips the plan limit on purpose: only operators call it.

use gatepass_store::{to_millis, NewToken, StoreResult};
use gatepass_store_sql::reach_columns;

use crate::{backend, PgStore};

const BATCH: usize = 10_000;

impl PgStore {
    /// Inserts `tokens` in batches of 10,000 rows, one `UNNEST` each.
    pub async fn import_tokens(&self, tokens: &[NewToken]) -> StoreResult<()> {
        for batch in tokens.chunks(BATCH) {
            let mut columns = Columns::default();
            for token in batch {
                columns.push(token);
            }
            sqlx::query(
                "INSERT INTO tokens (id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
                 created_by_id, created_by_label, created_at, expires_at, allowed_ips, parent_id, salt_fingerprint, \
                 source) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::bytea[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], \
                 $14::text[], $15::text[], $16::text[], $17::text[])",
            )
            .bind(columns.id)
            .bind(columns.org_id)
            .bind(columns.name)
            .bind(columns.level)
            .bind(columns.project_id)
            .bind(columns.environment_id)
            .bind(columns.scopes)
            .bind(columns.preview)
            .bind(columns.digest)
            .bind(columns.created_by_id)
            .bind(columns.created_by_label)
            .bind(columns.created_at)
            .bind(columns.expires_at)
            .bind(columns.allowed_ips)
            .bind(columns.parent_id)
            .bind(columns.salt_fingerprint)
            .bind(columns.source)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Columns {
    id: Vec<String>,
    org_id: Vec<String>,
    name: Vec<String>,
    level: Vec<String>,
    project_id: Vec<Option<String>>,
    environment_id: Vec<Option<String>>,
    scopes: Vec<String>,
    preview: Vec<String>,
    digest: Vec<Vec<u8>>,
    created_by_id: Vec<String>,
    created_by_label: Vec<String>,
    created_at: Vec<i64>,
    expires_at: Vec<Option<i64>>,
    allowed_ips: Vec<Option<String>>,
    parent_id: Vec<Option<String>>,
    salt_fingerprint: Vec<String>,
    source: Vec<&'static str>,
}

impl Columns {
    fn push(&mut self, token: &NewToken) {
        let (level, project, environment) = reach_columns(token.reach);
        self.id.push(token.id.to_string());
        self.org_id.push(token.org_id.to_string());
        self.name.push(token.name.clone());
        self.level.push(level.to_string());
        self.project_id.push(project);
        self.environment_id.push(environment);
        self.scopes.push(token.scopes.to_list_string());
        self.preview.push(token.preview.clone());
        self.digest.push(token.digest.as_bytes().to_vec());
        self.created_by_id.push(token.created_by.id.clone());
        self.created_by_label.push(token.created_by.label.clone());
        self.created_at.push(to_millis(token.created_at));
        self.expires_at.push(token.expires_at.map(to_millis));
        self.allowed_ips.push(token.allowed_ips.to_stored());
        self.parent_id.push(token.parent_id.map(|parent| parent.to_string()));
        self.salt_fingerprint.push(token.salt_fingerprint.clone());
        self.source.push(token.source.as_str());
    }
}
