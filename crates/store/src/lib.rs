//! The storage traits of gatepass: small traits that each say one thing, the
//! records they move, and a [`contract`] test suite that every backend runs.
//!
//! Invariants that must hold under concurrency (plan limits, unique digests,
//! unique slugs) are the backends' job, inside their transactions.

pub mod contract;
mod error;
mod records;
mod traits;
mod webhooks;

pub use error::{StoreError, StoreResult};
pub use records::*;
pub use traits::*;
pub use webhooks::*;

/// Milliseconds since the Unix epoch: how every backend stores instants.
pub fn to_millis(instant: time::OffsetDateTime) -> i64 {
    (instant.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(millis: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
