//! The server's clock: system time plus an offset that tests can move, so
//! expiry and grace periods are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

#[derive(Debug, Default)]
pub struct Clock {
    offset_millis: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset_millis.load(Ordering::Relaxed);
        OffsetDateTime::now_utc() + Duration::milliseconds(offset)
    }

    /// Moves this clock forward (tests only; the real server never calls it).
    pub fn advance(&self, by: Duration) {
        self.offset_millis.fetch_add(by.whole_milliseconds() as i64, Ordering::Relaxed);
    }
}
