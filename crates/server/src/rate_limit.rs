//! Failed-authentication limiting per client address.
//!
//! Only failures are counted, so valid traffic never pays more than one map
//! lookup; an address that fails too often in a minute gets 429 for the rest
//! of that minute, whatever it sends.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;
use time::{Duration, OffsetDateTime};

const WINDOW: Duration = Duration::minutes(1);

#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: OffsetDateTime,
    failures: u32,
}

impl FailureLimiter {
    pub fn new(max_failures_per_minute: u32) -> Self {
        Self { max_failures: max_failures_per_minute.max(1), windows: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds)` when `ip` must wait before trying again.
    pub fn check(&self, ip: IpAddr, now: OffsetDateTime) -> Result<(), u64> {
        let windows = self.windows.lock();
        match windows.get(&ip) {
            Some(window) if window.failures >= self.max_failures && now < window.started + WINDOW => {
                Err((window.started + WINDOW - now).whole_seconds().max(1) as u64)
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, ip: IpAddr, now: OffsetDateTime) {
        let mut windows = self.windows.lock();
        // Forget old windows so the map cannot grow without bound.
        if windows.len() > 10_000 {
            windows.retain(|_, window| now < window.started + WINDOW);
        }
        let window = windows.entry(ip).or_insert(Window { started: now, failures: 0 });
        if now >= window.started + WINDOW {
            *window = Window { started: now, failures: 0 };
        }
        window.failures += 1;
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
    }
}
