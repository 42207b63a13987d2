//! The rate limiters' memory stays within the documented bound under a
//! spray from more addresses (and more emails) than they track: measured
//! with a counting allocator, so the README's figure is checked, not guessed.

// The counting allocator must implement `GlobalAlloc`, an unsafe trait; it
// only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::IpAddr;
use std::sync::atomic::{AtomicIsize, Ordering};

use gatepass_server::rate_limit::{FailureLimiter, LoginThrottle, DEFAULT_TRACKED_KEYS};
use time::OffsetDateTime;

struct Counting;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The README's bound: at most 128 bytes per tracked key (12.8 MB per limiter).
const DOCUMENTED_BYTES_PER_KEY: usize = 128;

#[test]
fn a_spray_from_twice_the_tracked_addresses_stays_within_the_documented_memory() {
    let now = OffsetDateTime::now_utc();
    let before = ALLOCATED.load(Ordering::Relaxed);
    let limiter = FailureLimiter::new(30, DEFAULT_TRACKED_KEYS);
    for n in 0..2 * DEFAULT_TRACKED_KEYS as u32 {
        limiter.record_failure(IpAddr::from((0x0A00_0000 + n).to_be_bytes()), now);
    }
    let used = (ALLOCATED.load(Ordering::Relaxed) - before) as usize;
    assert!(limiter.tracked() <= DEFAULT_TRACKED_KEYS, "{} tracked", limiter.tracked());
    let per_key = used / DEFAULT_TRACKED_KEYS;
    eprintln!("address limiter: {used} bytes for {} tracked addresses ({per_key} B each)", limiter.tracked());
    assert!(used <= DOCUMENTED_BYTES_PER_KEY * DEFAULT_TRACKED_KEYS, "{used} bytes");
}

#[test]
fn a_spray_of_guesses_at_many_emails_stays_within_the_documented_memory() {
    let now = OffsetDateTime::now_utc();
    let before = ALLOCATED.load(Ordering::Relaxed);
    let throttle = LoginThrottle::new(DEFAULT_TRACKED_KEYS);
    for n in 0..2 * DEFAULT_TRACKED_KEYS {
        throttle.record_failure(&format!("u{n}@example.test"), now);
    }
    let used = (ALLOCATED.load(Ordering::Relaxed) - before) as usize;
    assert!(throttle.tracked() <= DEFAULT_TRACKED_KEYS);
    eprintln!("login throttle: {used} bytes for {} tracked accounts", throttle.tracked());
    // Accounts are kept as a hash of the email, so long emails cost no more.
    assert!(used <= DOCUMENTED_BYTES_PER_KEY * DEFAULT_TRACKED_KEYS, "{used} bytes");
}
