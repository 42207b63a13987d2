//! The SQL of every store trait, for SQLite: one file per group of traits,
//! mirroring the PostgreSQL backend's layout.

mod accounts;
mod deployments;
mod events;
mod projects;
mod tokens;
mod trust;
mod webhooks;

pub(crate) use tokens::insert_token_row;

/// A token's columns, read `FROM tokens`; its last-used time lives in a
/// narrow table of its own (migration 0010 says why), read by its key.
pub(super) const TOKEN_COLUMNS: &str = "id, org_id, name, level, project_id, environment_id, scopes, preview, digest, \
    previous_digest, previous_valid_until, created_by_id, created_by_label, created_at, rotated_at, \
    (SELECT at FROM token_last_used WHERE token_id = tokens.id) AS last_used_at, \
    expires_at, revoked_at, revoked_reason, leak_url, leak_source, allowed_ips, parent_id, salt_fingerprint, source";
pub(super) const ORG_COLUMNS: &str = "orgs.id, orgs.name, orgs.slug, orgs.plan, orgs.created_at";
pub(super) const PROJECT_COLUMNS: &str =
    "id, org_id, name, slug, deploy_hook_url, deploy_hook_secret, deploy_timeout_secs, created_at";

/// The condition for "counts against the plan": made by a user (minted
/// tokens never count), not revoked, not expired at `?`.
pub(super) const ACTIVE_AT: &str = "source = 'user' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)";
