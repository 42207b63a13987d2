//! The gatepass HTTP server.
//!
//! - [`service`]: what gatepass does — tokens, projects, orgs, members,
//!   deployments, sessions, audit — on behalf of a caller;
//! - [`verify`]: the verifier and its cache (the hot path);
//! - [`api`] (JSON + OpenAPI) and [`web`] (the dashboard): thin adapters over
//!   the service, never importing each other;
//! - [`auth`] and [`rate_limit`]: who is calling, and failed attempts;
//! - [`outbox`]: durable deliveries (the deploy hook);
//! - [`server`]: the wiring that starts and stops it all.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod last_used;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod periodic;
pub mod problem;
pub mod rate_limit;
pub mod salt;
pub mod server;
pub mod service;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod verify;
pub mod views;
pub mod web;

pub use config::{DatabaseConfig, ServerConfig};
pub use server::{open_store, RunningServer};
