//! Failed-authentication limiting per client address.
//!
//! Only failures are counted, so valid traffic never pays more than one map
//! lookup; an address that fails too often in a minute gets 429 for the rest
//! of that minute, whatever it sends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use time::{Duration, OffsetDateTime};

const WINDOW: Duration = Duration::minutes(1);

#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
    /// How many windows have reached the limit and not yet been reset. While
    /// it is zero, nobody is blocked and `check` needs no lock.
    blocked_windows: AtomicUsize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: OffsetDateTime,
    failures: u32,
}

impl FailureLimiter {
    pub fn new(max_failures_per_minute: u32) -> Self {
        Self {
            max_failures: max_failures_per_minute.max(1),
            windows: Mutex::new(HashMap::new()),
            blocked_windows: AtomicUsize::new(0),
        }
    }

    /// `Err(seconds)` when `ip` must wait before trying again.
    pub fn check(&self, ip: IpAddr, now: OffsetDateTime) -> Result<(), u64> {
        if self.blocked_windows.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock();
        self.release_ended_windows(&mut windows, now);
        match windows.get(&ip) {
            Some(window) if window.failures >= self.max_failures && now < window.started + WINDOW => {
                Err((window.started + WINDOW - now).whole_seconds().max(1) as u64)
            }
            _ => Ok(()),
        }
    }

    /// Forgets windows that have ended, so that the map stays small and the
    /// lock-free path in `check` comes back once every block has expired.
    fn release_ended_windows(&self, windows: &mut HashMap<IpAddr, Window>, now: OffsetDateTime) {
        let max = self.max_failures;
        let mut released = 0;
        windows.retain(|_, window| {
            let keep = now < window.started + WINDOW;
            released += usize::from(!keep && window.failures >= max);
            keep
        });
        self.blocked_windows.fetch_sub(released, Ordering::AcqRel);
    }

    pub fn record_failure(&self, ip: IpAddr, now: OffsetDateTime) {
        let mut windows = self.windows.lock();
        // Forget old windows so the map cannot grow without bound.
        if windows.len() > 10_000 {
            self.release_ended_windows(&mut windows, now);
        }
        let window = windows.entry(ip).or_insert(Window { started: now, failures: 0 });
        if now >= window.started + WINDOW {
            if window.failures >= self.max_failures {
                self.blocked_windows.fetch_sub(1, Ordering::AcqRel);
            }
            *window = Window { started: now, failures: 0 };
        }
        window.failures += 1;
        if window.failures == self.max_failures {
            self.blocked_windows.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_address_is_blocked_after_too_many_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let start = datetime!(2026-11-25 12:00 UTC);
        for _ in 0..3 {
            assert!(limiter.check(ip, start).is_ok());
            limiter.record_failure(ip, start);
        }
        assert_eq!(limiter.check(ip, start + Duration::seconds(20)), Err(40));
        assert!(limiter.check(other, start).is_ok());
        assert!(limiter.check(ip, start + Duration::seconds(61)).is_ok());
        assert_eq!(limiter.blocked_windows.load(Ordering::Acquire), 0, "the lock-free path is back");
    }

    #[test]
    fn failures_below_the_limit_block_nobody() {
        let limiter = FailureLimiter::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let start = datetime!(2026-11-25 12:00 UTC);
        limiter.record_failure(ip, start);
        limiter.record_failure(ip, start);
        assert_eq!(limiter.blocked_windows.load(Ordering::Acquire), 0);
        assert!(limiter.check(ip, start).is_ok());
    }
}
