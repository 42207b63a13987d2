//! The server's clock: system time plus an offset that tests can move, so
//! expiry and grace periods are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::{Duration, OffsetDateTime};

#[derive(Debug, Default)]
pub struct Clock {
    offset_millis: AtomicI64,
}

impl Clock {
    /// Now, to the millisecond: the precision the database keeps, so that
    /// what a handler answers equals what a later read returns.
    /// Read on every request: one conversion from the system's milliseconds.
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset_millis.load(Ordering::Relaxed);
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64);
        gatepass_store::from_millis(since_epoch + offset)
    }

    /// Moves this clock forward (tests only; the real server never calls it).
    pub fn advance(&self, by: Duration) {
        self.offset_millis.fetch_add(by.whole_milliseconds() as i64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_the_system_time_to_the_millisecond_moved_by_what_tests_advanced() {
        let clock = Clock::default();
        let before = OffsetDateTime::now_utc();
        let now = clock.now();
        assert_eq!(now.nanosecond() % 1_000_000, 0);
        assert!(now >= before - Duration::milliseconds(1) && now <= OffsetDateTime::now_utc(), "{before} {now}");
        clock.advance(Duration::hours(2));
        let later = clock.now();
        assert!(later - now >= Duration::hours(2) && later - now < Duration::hours(2) + Duration::seconds(5));
    }
}
