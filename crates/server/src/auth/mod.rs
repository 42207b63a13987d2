//! Who is calling: bearer credentials (deployment tokens and login sessions)
//! turned into a [`crate::service::Caller`], with failed attempts rate
//! limited; session credentials and password hashing.

mod caller;
pub mod password;
pub mod secret_scanning;
pub mod session;

pub use caller::{bearer, ClientIp};
