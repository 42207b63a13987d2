//! The gatepass HTTP server: the REST API ([`api`]), authentication
//! ([`auth`]), the token lifecycle ([`tokens`]) and verify path ([`verify`]),
//! and the wiring that starts it all ([`server`]).

pub mod api;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod error;
pub mod hooks;
pub mod labels;
pub mod last_used;
pub mod metrics;
pub mod project_setup;
pub mod rate_limit;
pub mod server;
pub mod state;
pub mod tokens;
pub mod verify;
pub mod web;

pub use config::{DatabaseConfig, ServerConfig};
pub use server::{open_store, RunningServer};
