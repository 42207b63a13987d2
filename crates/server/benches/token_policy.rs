//! What token policy adds to the verify path (criterion):
//! - `allow-list/check/<n> ranges`: `AllowedIps::allows` alone, for no list
//!   and for lists of 1 and 5 ranges (the address matching the last);
//! - `allow-list/verify/<none|5 ranges>`: a full cached verify of a token
//!   without a list and of one with 5 ranges;
//! - `invalid-token/<no previous salt|previous salt>`: a well-formed but
//!   unknown token whose verdict is cached, without and during a salt
//!   rotation (the retry under the previous salt: one more HMAC and one
//!   more cache lookup, never a database read once cached).
//!
//! It also prints the heap allocations one cached verify makes with an
//! allow list (expected: 0), measured with a counting allocator.
//! Run: `cargo bench -p gatepass-server --bench token_policy`.

// The counting allocator below must implement `GlobalAlloc`, an unsafe trait;
// it only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

mod support;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use gatepass_core::id::{ProjectId, TokenId};
use gatepass_core::policy::AllowedIps;
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scopes;
use gatepass_core::token::{PlainToken, TokenKind, TokenSalt};
use gatepass_server::last_used::LastUsed;
use gatepass_server::metrics::Metrics;
use gatepass_server::verify::{CacheSizes, RejectReason, TokenVerifier, Trust, VerifyError};
use gatepass_store::{Actor, NewToken, Store};
use gatepass_store_sqlite::SqliteStore;
use time::OffsetDateTime;

/// Counts heap allocations, to show the cached verify path makes none.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SALT: &[u8] = b"benchmark salt that is at least 32 bytes";
const PREVIOUS_SALT: &[u8] = b"the previous benchmark salt, 32 bytes or more";
const FIVE_RANGES: [&str; 5] = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "172.16.0.0/12", "127.0.0.0/8"];

fn client() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// Polls a future that is expected to finish without waiting (a cache hit).
fn run_now<F: Future>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output {
    let _context = runtime.enter();
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => runtime.block_on(future),
    }
}

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("allow-list/check");
    let ip = client();
    for (label, list) in [
        ("0 ranges", AllowedIps::anywhere()),
        ("1 range", AllowedIps::parse_each(["127.0.0.0/8"]).unwrap()),
        ("5 ranges", AllowedIps::parse_each(FIVE_RANGES).unwrap()),
    ] {
        group.bench_function(label, |b| b.iter(|| black_box(&list).allows(black_box(ip))));
    }
    group.finish();
}

/// A store with two tokens, one without and one with a 5-range allow list.
async fn seed(store: &Arc<dyn Store>) -> (PlainToken, PlainToken) {
    let now = OffsetDateTime::now_utc();
    let org = support::bench_org(store, now).await;
    let salt = TokenSalt::new(SALT).unwrap();
    let mut plains = Vec::new();
    for allowed_ips in [AllowedIps::anywhere(), AllowedIps::parse_each(FIVE_RANGES).unwrap()] {
        let plain = PlainToken::generate(TokenKind::Deploy);
        let token = NewToken {
            id: TokenId::generate(),
            org_id: org.id,
            name: "bench".into(),
            reach: Reach::Project(ProjectId::generate()),
            scopes: Scopes::all(),
            preview: plain.preview(),
            digest: salt.digest(plain.expose_secret()),
            created_by: Actor::system(),
            created_at: now,
            expires_at: None,
            allowed_ips,
            parent_id: None,
            salt_fingerprint: salt.fingerprint(),
            source: gatepass_core::token::TokenSource::User,
        };
        store.insert_token(&token).await.unwrap();
        plains.push(plain);
    }
    let listed = plains.pop().unwrap();
    (plains.pop().unwrap(), listed)
}

fn verifier(store: &Arc<dyn Store>, previous: Option<TokenSalt>) -> TokenVerifier {
    TokenVerifier::new(
        Ok(TokenSalt::new(SALT).unwrap()),
        store.clone(),
        Arc::new(LastUsed::default()),
        Arc::new(Metrics::default()),
        CacheSizes::default(),
        Trust::always(),
    )
    .with_previous_salt(previous)
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = runtime.block_on(SqliteStore::open_in_dir(dir.path())).unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let (anywhere, listed) = runtime.block_on(seed(&store));
    let now = OffsetDateTime::now_utc();
    let from = Some(client());

    let plain = verifier(&store, None);
    for token in [&anywhere, &listed] {
        runtime.block_on(plain.verify(token.expose_secret(), from, now)).unwrap();
    }
    let mut group = c.benchmark_group("allow-list/verify");
    for (label, token) in [("none", &anywhere), ("5 ranges", &listed)] {
        group.bench_function(label, |b| b.iter(|| run_now(&runtime, plain.verify(token.expose_secret(), from, now))));
    }
    group.finish();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        black_box(run_now(&runtime, plain.verify(listed.expose_secret(), from, now)).unwrap());
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("allocations per cached verify with a 5-range allow list: {}", allocations as f64 / 1000.0);

    let unknown = PlainToken::generate(TokenKind::Deploy);
    let rotating = verifier(&store, Some(TokenSalt::new(PREVIOUS_SALT).unwrap()));
    let mut group = c.benchmark_group("invalid-token");
    for (label, verifier) in [("no previous salt", &plain), ("previous salt", &rotating)] {
        let rejected = runtime.block_on(verifier.verify(unknown.expose_secret(), from, now));
        assert!(matches!(rejected, Err(VerifyError::Rejected(RejectReason::Unknown))));
        group.bench_function(label, |b| {
            b.iter(|| run_now(&runtime, verifier.verify(black_box(unknown.expose_secret()), from, now)))
        });
    }
    group.finish();
}

criterion_group!(benches, check, verify);
criterion_main!(benches);
