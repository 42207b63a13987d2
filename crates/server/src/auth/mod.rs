//! Who is calling: bearer credentials (deployment tokens and login sessions)
//! turned into a [`crate::service::Caller`], with failing ones rate limited;
//! the client's address; session credentials and password hashing.

mod caller;
mod client_ip;
pub mod expiry_notice;
pub mod ip_denials;
pub mod oidc;
pub mod password;
pub mod secret_scanning;
pub mod session;

pub use caller::{bearer, refuse};
pub use client_ip::ClientIp;
