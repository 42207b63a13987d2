//! Limits on failed authentication, built to stop attackers without locking
//! out colleagues.
//!
//! - [`FailureLimiter`] counts failures per client address (IPv6 per /64)
//!   in one-minute windows. Past the limit, *failing* credentials from the
//!   address get 429; valid ones are still served (decided from the verify
//!   cache, or with one database read on a cache miss).
//!   Deployment tokens carry 178 random bits, so online guessing is hopeless
//!   whatever the limit: it exists to protect the service, not the token space.
//! - [`LoginThrottle`] counts failed password logins per account, whatever
//!   the address, so an attacker with many addresses cannot guess one
//!   account's password without limit.
//!
//! Both keep at most a configured number of keys (a bounded cache that
//! evicts the least useful), so a spray from millions of addresses or
//! emails costs bounded memory.

use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use quick_cache::sync::{Cache, EntryAction, EntryResult};
use time::OffsetDateTime;

const WINDOW_SECS: i64 = 60;

/// Addresses (or accounts) tracked at most, by default. Measured in
/// `tests/limiter_memory.rs`: about 120 bytes each (the cache's own
/// bookkeeping included), so at most 12.8 MB per limiter.
pub const DEFAULT_TRACKED_KEYS: usize = 100_000;

/// The unit a client address is counted in: an IPv4 address, or the /64 an
/// IPv6 address belongs to (one subscriber's or one host's share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4([u8; 4]),
    V6Net64([u8; 8]),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(v4.octets()),
                None => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    AddressKey::V6Net64(prefix)
                }
            },
        }
    }
}

/// Whether an address may still fail without being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Clear,
    /// Failing credentials get 429 for this many more seconds.
    Limited {
        retry_after_secs: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    failures: u32,
}

/// Failed authentications per client address.
pub struct FailureLimiter {
    max_failures: u32,
    windows: Cache<AddressKey, Window>,
    /// No address is limited from this unix second on: the latest end of a
    /// window that reached the limit. Until an address fails too often,
    /// asking for a standing costs one atomic load, not a lookup every
    /// request's thread contends for.
    no_limits_from: AtomicI64,
}

impl std::fmt::Debug for FailureLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureLimiter").field("max_failures", &self.max_failures).finish_non_exhaustive()
    }
}

impl FailureLimiter {
    pub fn new(max_failures_per_minute: u32, tracked_addresses: usize) -> Self {
        Self {
            max_failures: max_failures_per_minute.max(1),
            windows: Cache::new(tracked_addresses.max(1)),
            no_limits_from: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether failing credentials from `ip` are refused now.
    pub fn standing(&self, ip: IpAddr, now: OffsetDateTime) -> Standing {
        let now = now.unix_timestamp();
        if now >= self.no_limits_from.load(Ordering::Acquire) {
            return Standing::Clear;
        }
        match self.windows.get(&AddressKey::from(ip)) {
            Some(window) => self.standing_of(&window, now),
            None => Standing::Clear,
        }
    }

    fn standing_of(&self, window: &Window, now: i64) -> Standing {
        let ends = window.started + WINDOW_SECS;
        if window.failures >= self.max_failures && now < ends {
            Standing::Limited { retry_after_secs: (ends - now).max(1) as u64 }
        } else {
            Standing::Clear
        }
    }

    /// `Err(seconds)` when failing credentials from `ip` must wait.
    pub fn check(&self, ip: IpAddr, now: OffsetDateTime) -> Result<(), u64> {
        match self.standing(ip, now) {
            Standing::Clear => Ok(()),
            Standing::Limited { retry_after_secs } => Err(retry_after_secs),
        }
    }

    /// Counts one failure from `ip`; answers the address's standing after it.
    pub fn record_failure(&self, ip: IpAddr, now: OffsetDateTime) -> Standing {
        let now = now.unix_timestamp();
        let fresh = Window { started: now, failures: 1 };
        let counted = self.windows.entry(&AddressKey::from(ip), None, |_, window| {
            if now >= window.started + WINDOW_SECS {
                *window = Window { started: now, failures: 0 };
            }
            window.failures = window.failures.saturating_add(1);
            EntryAction::Retain(*window)
        });
        let window = match counted {
            EntryResult::Retained(window) => window,
            EntryResult::Vacant(guard) => {
                let _ = guard.insert(fresh);
                fresh
            }
            _ => fresh,
        };
        let standing = self.standing_of(&window, now);
        if let Standing::Limited { .. } = standing {
            self.no_limits_from.fetch_max(window.started + WINDOW_SECS, Ordering::AcqRel);
        }
        standing
    }

    /// How many addresses are tracked now (never more than the configured bound).
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }
}

/// Failures before an account's logins start to be throttled.
const FREE_LOGIN_FAILURES: u32 = 5;
/// The longest an account's logins are throttled at a time.
const MAX_LOGIN_LOCK_SECS: u32 = 15 * 60;
/// An account with no failure for this long starts afresh.
const LOGIN_FAILURES_FORGOTTEN_AFTER_SECS: i64 = 60 * 60;

#[derive(Debug, Clone, Copy)]
struct AccountFailures {
    /// Unix milliseconds (a lock of 1 s must not end at the next second's turn).
    last_failure: i64,
    failures: u32,
    /// Logins wait until `last_failure + lock_secs` seconds.
    lock_secs: u32,
}

fn unix_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Failed password logins per account (by the email as typed, normalized),
/// from any number of addresses. Unknown emails are counted the same way,
/// so the throttle does not tell which accounts exist. Accounts are keyed by
/// a keyed hash of the email, so no email is kept in memory.
pub struct LoginThrottle {
    accounts: Cache<u64, AccountFailures>,
    hasher: RandomState,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle").finish_non_exhaustive()
    }
}

impl LoginThrottle {
    pub fn new(tracked_accounts: usize) -> Self {
        Self { accounts: Cache::new(tracked_accounts.max(1)), hasher: RandomState::new() }
    }

    /// How an email is counted: trimmed and lowercased, then hashed.
    fn key(&self, email: &str) -> u64 {
        self.hasher.hash_one(email.trim().to_lowercase())
    }

    /// `Err(seconds)` while logins to `email` are throttled: they are
    /// refused without a password check (no argon2 run).
    pub fn check(&self, email: &str, now: OffsetDateTime) -> Result<(), u64> {
        let Some(account) = self.accounts.get(&self.key(email)) else {
            return Ok(());
        };
        let locked_until = account.last_failure + i64::from(account.lock_secs) * 1000;
        let now = unix_millis(now);
        if now < locked_until {
            // Whole seconds for Retry-After, rounded up.
            Err(((locked_until - now) as u64).div_ceil(1000))
        } else {
            Ok(())
        }
    }

    /// Counts a failed login for `email`. Past a handful, the account is
    /// throttled for a window that doubles with each further failure, up to
    /// 15 minutes.
    pub fn record_failure(&self, email: &str, now: OffsetDateTime) {
        let now = unix_millis(now);
        let count = |account: &mut AccountFailures| {
            if now - account.last_failure >= LOGIN_FAILURES_FORGOTTEN_AFTER_SECS * 1000 {
                *account = AccountFailures { last_failure: now, failures: 0, lock_secs: 0 };
            }
            account.failures = account.failures.saturating_add(1);
            account.last_failure = now;
            if account.failures >= FREE_LOGIN_FAILURES {
                let doublings = (account.failures - FREE_LOGIN_FAILURES).min(20);
                account.lock_secs = (1u32 << doublings).min(MAX_LOGIN_LOCK_SECS);
            }
        };
        let counted = self.accounts.entry(&self.key(email), None, |_, account| {
            count(account);
            EntryAction::Retain(())
        });
        if let EntryResult::Vacant(guard) = counted {
            let mut account = AccountFailures { last_failure: now, failures: 0, lock_secs: 0 };
            count(&mut account);
            let _ = guard.insert(account);
        }
    }

    /// A successful login starts the account afresh.
    pub fn reset(&self, email: &str) {
        self.accounts.remove(&self.key(email));
    }

    pub fn tracked(&self) -> usize {
        self.accounts.len()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use time::Duration;

    use super::*;

    #[test]
    fn an_address_is_limited_after_too_many_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let start = datetime!(2026-11-25 12:00 UTC);
        assert_eq!(limiter.record_failure(ip, start), Standing::Clear);
        assert_eq!(limiter.record_failure(ip, start), Standing::Clear);
        assert_eq!(limiter.record_failure(ip, start), Standing::Limited { retry_after_secs: 60 });
        assert_eq!(limiter.check(ip, start + Duration::seconds(20)), Err(40));
        assert_eq!(limiter.check(other, start), Ok(()));
        assert_eq!(limiter.check(ip, start + Duration::seconds(61)), Ok(()));
        assert_eq!(limiter.record_failure(ip, start + Duration::seconds(61)), Standing::Clear, "a new window");
    }

    #[test]
    fn an_address_limited_later_stays_limited_after_an_earlier_ones_window_ends() {
        let limiter = FailureLimiter::new(2, 100);
        let (early, late): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let start = datetime!(2026-11-25 12:00 UTC);
        limiter.record_failure(early, start);
        assert_eq!(limiter.check(early, start), Ok(()), "failures below the limit limit nobody");
        limiter.record_failure(early, start);
        let later = start + Duration::seconds(30);
        limiter.record_failure(late, later);
        limiter.record_failure(late, later);
        let after_the_first_window = start + Duration::seconds(70);
        assert_eq!(limiter.check(early, after_the_first_window), Ok(()));
        assert_eq!(limiter.check(late, after_the_first_window), Err(20));
        assert_eq!(limiter.check(late, later + Duration::seconds(60)), Ok(()));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let limiter = FailureLimiter::new(2, 100);
        let now = datetime!(2026-11-25 12:00 UTC);
        limiter.record_failure("2001:db8:1:2::1".parse().unwrap(), now);
        limiter.record_failure("2001:db8:1:2:ffff::9".parse().unwrap(), now);
        assert!(limiter.check("2001:db8:1:2::77".parse().unwrap(), now).is_err(), "same /64");
        assert!(limiter.check("2001:db8:1:3::1".parse().unwrap(), now).is_ok(), "another /64");
        limiter.record_failure("::ffff:192.0.2.9".parse().unwrap(), now);
        limiter.record_failure("192.0.2.9".parse().unwrap(), now);
        assert!(limiter.check("192.0.2.9".parse().unwrap(), now).is_err());
    }

    #[test]
    fn a_spray_from_many_addresses_stays_within_the_bound() {
        let limiter = FailureLimiter::new(30, 1_000);
        let now = datetime!(2026-11-25 12:00 UTC);
        for n in 0..100_000u32 {
            limiter.record_failure(IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(limiter.tracked() <= 1_000, "{} addresses tracked", limiter.tracked());
    }

    #[test]
    fn an_account_is_throttled_for_a_growing_window_capped_at_fifteen_minutes() {
        let throttle = LoginThrottle::new(100);
        let now = datetime!(2026-11-25 12:00 UTC);
        for _ in 0..FREE_LOGIN_FAILURES - 1 {
            throttle.record_failure("Owner@Example.test ", now);
        }
        assert_eq!(throttle.check("owner@example.test", now), Ok(()));
        throttle.record_failure("owner@example.test", now);
        assert_eq!(throttle.check("owner@example.test", now), Err(1));
        for _ in 0..3 {
            throttle.record_failure("owner@example.test", now);
        }
        assert_eq!(throttle.check("owner@example.test", now), Err(8));
        for _ in 0..30 {
            throttle.record_failure("owner@example.test", now);
        }
        assert_eq!(throttle.check("owner@example.test", now), Err(15 * 60), "never longer than 15 minutes");
        assert_eq!(throttle.check("owner@example.test", now + Duration::minutes(15)), Ok(()));
        throttle.reset("OWNER@example.test");
        throttle.record_failure("owner@example.test", now);
        assert_eq!(throttle.check("owner@example.test", now), Ok(()), "a success started it afresh");
        assert_eq!(throttle.check("someone-else@example.test", now), Ok(()));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let throttle = LoginThrottle::new(100);
        let now = datetime!(2026-11-25 12:00 UTC);
        for _ in 0..FREE_LOGIN_FAILURES {
            throttle.record_failure("a@example.test", now);
        }
        let later = now + Duration::hours(2);
        throttle.record_failure("a@example.test", later);
        assert_eq!(throttle.check("a@example.test", later), Ok(()));
    }
}
