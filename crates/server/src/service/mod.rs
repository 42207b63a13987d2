//! What gatepass does, in plain calls: tokens (issue, rotate, revoke),
//! projects with their environments and rules, orgs and members,
//! deployments, sessions and the audit log. Each call takes the [`Caller`]
//! and typed requests, decides through `gatepass_core::access`, and returns
//! records or a [`ServiceError`]. `api/` and `web/` are thin skins over it.

pub mod audit;
mod caller;
pub mod deployments;
mod error;
pub mod labels;
pub mod leaks;
pub mod members;
pub mod orgs;
pub mod pages;
pub mod projects;
pub mod resolve;
pub mod sessions;
pub mod token_policy;
pub mod tokens;
pub mod trust;
pub mod urls;
pub mod webhooks;

pub use caller::Caller;
pub use error::{blocking, invalid, ServiceError, ServiceResult};
