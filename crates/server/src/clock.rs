//! The server's clock: system time plus an offset that tests can move, so
//! expiry and grace periods are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

#[derive(Debug, Default)]
pub struct Clock {
    offset_millis: AtomicI64,
}

impl Clock {
    /// Now, to the millisecond: the precision the database keeps, so that
    /// what a handler answers equals what a later read returns.
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset_millis.load(Ordering::Relaxed);
        let now = OffsetDateTime::now_utc() + Duration::milliseconds(offset);
        // Whole milliseconds are always a valid nanosecond count.
        now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
    }

    /// Moves this clock forward (tests only; the real server never calls it).
    pub fn advance(&self, by: Duration) {
        self.offset_millis.fetch_add(by.whole_milliseconds() as i64, Ordering::Relaxed);
    }
}
