//! The SQL of every store trait, for PostgreSQL: one file per group of traits.
//! Each query mirrors its SQLite twin; where the SQL differs, a comment says why.

mod accounts;
mod deployments;
mod events;
mod projects;
mod tokens;
mod trust;
mod webhooks;

const ORG_COLUMNS: &str = "orgs.id, orgs.name, orgs.slug, orgs.plan, orgs.created_at";
