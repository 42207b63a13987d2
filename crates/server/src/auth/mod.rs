//! Who is calling: bearer credentials (deployment tokens and login sessions)
//! turned into a [`Principal`], with failed attempts rate limited.

mod caller;
pub mod password;
pub mod session;

pub use caller::{user_for_session, Caller, ClientIp};
