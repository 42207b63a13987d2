//! Durable deliveries to the outside world: each is recorded with the change
//! that causes it, claimed by one node, sent and retried, and taken over
//! when the node that claimed it stops.

pub mod deploy_hook;
pub mod ssrf;
pub mod webhooks;
