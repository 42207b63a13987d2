//! In-process benchmarks of the verify path (criterion):
//! - `token/parse+checksum` and `token/digest`: the offline steps;
//! - `verify/<backend>/<n>/cached`: a full verify (parse → digest → cache →
//!   status and grace → last-used touch) with `n` tokens stored;
//! - `verify/<backend>/<n>/database`: the same when the node cache misses;
//! - `verify/wide-answers/<n>`: what `GET /v1/token` does beyond HTTP for
//!   a token at random among `n` whose answers are cached (verify, then
//!   fill the rendered answer with the time of the use): traffic spread
//!   over many tokens, where the CPU's caches rarely hold the entry.
//!
//! Sizes default to 1,000, 100,000 and 1,000,000 (`GATEPASS_BENCH_SIZES=1000,100000`
//! to change). PostgreSQL runs when reachable at `GATEPASS_TEST_POSTGRES_URL`.
//! It also prints the memory each cached token costs with 1,000,000 tokens
//! cached (`GATEPASS_BENCH_MEMORY_TOKENS` to change), measured with a
//! counting allocator. Run: `cargo bench -p gatepass-server --bench verify`
//! (one group: add its name, e.g. `-- wide-answers`).

// The counting allocator below must implement `GlobalAlloc`, an unsafe trait;
// it only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

mod support;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use gatepass_core::id::TokenId;
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scopes;
use gatepass_core::token::{self, PlainToken, TokenKind, TokenSalt};
use gatepass_server::last_used::LastUsed;
use gatepass_server::metrics::Metrics;
use gatepass_server::verify::answers::SplitAnswer;
use gatepass_server::verify::{CacheSizes, TokenVerifier, Trust};
use gatepass_store::{Actor, NewToken, Store};
use gatepass_store_postgres::testing::TestDatabase;
use gatepass_store_postgres::PgStore;
use gatepass_store_sqlite::SqliteStore;
use time::OffsetDateTime;

/// Counts live heap bytes, to report memory per cached token.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SALT: &[u8] = b"benchmark salt that is at least 32 bytes";
const SAMPLES: usize = 1_000;
/// The address every benchmarked request comes from.
const CLIENT: Option<std::net::IpAddr> = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

fn sizes() -> Vec<usize> {
    std::env::var("GATEPASS_BENCH_SIZES")
        .ok()
        .map(|text| text.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 100_000, 1_000_000])
}

fn offline(c: &mut Criterion) {
    let token = PlainToken::generate(TokenKind::Deploy);
    let text = token.expose_secret();
    c.bench_function("token/parse+checksum", |b| b.iter(|| token::parse(black_box(text)).unwrap()));
    let salt = TokenSalt::new(SALT).unwrap();
    c.bench_function("token/digest", |b| b.iter(|| salt.digest(black_box(text))));
}

/// Polls a future that is expected to finish without waiting (a cache hit);
/// falls back to the runtime when it does wait.
fn run_now<F: Future>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output {
    let _context = runtime.enter();
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => runtime.block_on(future),
    }
}

/// An org with `n` project tokens; returns the plaintexts of a sample of them.
async fn seed(store: &Arc<dyn Store>, import: impl AsyncFnOnce(&[NewToken]), n: usize, keep: usize) -> Vec<PlainToken> {
    let now = OffsetDateTime::now_utc();
    let org = support::bench_org(store, now).await;
    let salt = TokenSalt::new(SALT).unwrap();
    let project = gatepass_core::id::ProjectId::generate();
    let mut samples = Vec::with_capacity(keep);
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        let plain = PlainToken::generate(TokenKind::Deploy);
        tokens.push(NewToken {
            id: TokenId::generate(),
            org_id: org.id,
            name: format!("token {i}"),
            reach: Reach::Project(project),
            scopes: Scopes::all(),
            preview: plain.preview(),
            digest: salt.digest(plain.expose_secret()),
            created_by: Actor::system(),
            created_at: now,
            expires_at: None,
            allowed_ips: Default::default(),
            parent_id: None,
            salt_fingerprint: String::new(),
            source: gatepass_core::token::TokenSource::User,
        });
        if i % (n / keep).max(1) == 0 && samples.len() < keep {
            samples.push(plain);
        }
    }
    import(&tokens).await;
    samples
}

fn verifier(store: &Arc<dyn Store>, last_used: Arc<LastUsed>) -> TokenVerifier {
    TokenVerifier::new(
        Ok(TokenSalt::new(SALT).unwrap()),
        store.clone(),
        last_used,
        Arc::new(Metrics::default()),
        CacheSizes::default(),
        Trust::always(),
    )
}

fn bench_backend(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    backend: &str,
    store: Arc<dyn Store>,
    samples: &[PlainToken],
    n: usize,
) {
    let verifier = verifier(&store, Arc::default());
    let now = OffsetDateTime::now_utc();
    for sample in samples {
        runtime.block_on(verifier.verify(sample.expose_secret(), CLIENT, now)).unwrap();
    }
    let mut group = c.benchmark_group(format!("verify/{backend}/{n}"));
    group.sample_size(30);
    let mut i = 0;
    group.bench_function("cached", |b| {
        b.iter(|| {
            i = (i + 1) % samples.len();
            run_now(runtime, verifier.verify(samples[i].expose_secret(), CLIENT, now)).unwrap()
        })
    });
    group.bench_function("database", |b| {
        b.iter(|| {
            i = (i + 1) % samples.len();
            verifier.forget_all();
            runtime.block_on(verifier.verify(samples[i].expose_secret(), CLIENT, now)).unwrap()
        })
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for n in sizes() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = runtime.block_on(SqliteStore::open_in_dir(dir.path())).unwrap();
        let store: Arc<dyn Store> = Arc::new(sqlite.clone());
        let samples =
            runtime.block_on(seed(&store, async |tokens| sqlite.import_tokens(tokens).await.unwrap(), n, SAMPLES));
        bench_backend(c, &runtime, "sqlite", store, &samples, n);
    }
}

fn postgres(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for n in sizes() {
        let Some(database) = runtime.block_on(TestDatabase::create()) else { return };
        let pg = runtime.block_on(PgStore::connect(database.url())).unwrap();
        let store: Arc<dyn Store> = Arc::new(pg.clone());
        let samples =
            runtime.block_on(seed(&store, async |tokens| pg.import_tokens(tokens).await.unwrap(), n, SAMPLES));
        bench_backend(c, &runtime, "postgres", store, &samples, n);
        drop(pg);
        runtime.block_on(async move { drop(database) });
    }
}

/// One hot token verified on one thread, then on two at once, as two server
/// workers do under load: what sharing its cache entry across cores costs.
fn hot_token(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = runtime.block_on(SqliteStore::open_in_dir(dir.path())).unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let samples = runtime.block_on(seed(&store, async |tokens| sqlite.import_tokens(tokens).await.unwrap(), 1, 1));
    let token = samples[0].expose_secret();
    let verifier = verifier(&store, Arc::default());
    let now = OffsetDateTime::now_utc();
    let verify = || run_now(&runtime, verifier.verify(token, CLIENT, now)).unwrap();
    verify();
    let mut group = c.benchmark_group("verify/hot-token");
    group.bench_function("one thread", |b| b.iter(verify));
    // Both threads verify `iterations` times; the time is until both are done.
    group.bench_function("two threads", |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    (0..iterations).for_each(|_| {
                        black_box(verify());
                    })
                });
                (0..iterations).for_each(|_| {
                    black_box(verify());
                });
            });
            started.elapsed()
        })
    });
    group.finish();
}

/// Reports the heap each cached token costs (not a criterion measurement),
/// with a million tokens cached: the verdict cache alone, since last-used
/// times are flushed as they would be.
fn cache_memory(_: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let n = std::env::var("GATEPASS_BENCH_MEMORY_TOKENS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = runtime.block_on(SqliteStore::open_in_dir(dir.path())).unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let samples = runtime.block_on(seed(&store, async |tokens| sqlite.import_tokens(tokens).await.unwrap(), n, n));
    let last_used = Arc::new(LastUsed::default());
    let metrics = Metrics::default();
    let verifier = verifier(&store, last_used.clone());
    let now = OffsetDateTime::now_utc();
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    for chunk in samples.chunks(50_000) {
        for token in chunk {
            runtime.block_on(verifier.verify(token.expose_secret(), CLIENT, now)).unwrap();
        }
        runtime.block_on(verifier.flush_last_used(store.as_ref(), &metrics));
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    let cached = verifier.cache().len();
    println!(
        "cache memory: {} bytes per cached token ({cached} tokens, {} bytes)",
        (after - before) / cached as isize,
        after - before
    );
}

/// Tokens in the wide-traffic benchmark (`GATEPASS_BENCH_WIDE_TOKENS`):
/// within the answer cache's default capacity.
const WIDE_TOKENS: usize = 200_000;

/// `GET /v1/token` without HTTP for a token at random among many, each with
/// its answer rendered and cached as the server renders it (about 600
/// bytes, with a gap for the last-used time).
fn wide_answers(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let n = std::env::var("GATEPASS_BENCH_WIDE_TOKENS").ok().and_then(|n| n.parse().ok()).unwrap_or(WIDE_TOKENS);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = runtime.block_on(SqliteStore::open_in_dir(dir.path())).unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let mut samples = runtime.block_on(seed(&store, async |tokens| sqlite.import_tokens(tokens).await.unwrap(), n, n));
    let verifier = verifier(&store, Arc::default());
    let now = OffsetDateTime::now_utc();
    for sample in &samples {
        let verified = runtime.block_on(verifier.verify(sample.expose_secret(), CLIENT, now)).unwrap();
        let answers = runtime.block_on(verifier.answers(&verified)).unwrap().unwrap();
        answers.whoami.get_or_init(|| rendered_answer(&answers.record));
    }
    shuffle(&mut samples);
    let mut i = 0;
    let mut group = c.benchmark_group("verify/wide-answers");
    group.bench_function(n.to_string(), |b| {
        b.iter(|| {
            i = (i + 1) % samples.len();
            let verified = run_now(&runtime, verifier.verify(samples[i].expose_secret(), CLIENT, now)).unwrap();
            let answers = run_now(&runtime, verifier.answers(&verified)).unwrap().unwrap();
            answers.whoami.get().unwrap().fill_with_time(verified.verified_at).unwrap()
        })
    });
    group.finish();
}

/// An answer shaped and sized like the server's `GET /v1/token` answer for
/// `record`, with its last-used time cut out.
fn rendered_answer(record: &gatepass_store::TokenRecord) -> SplitAnswer {
    let json = format!(
        r#"{{"id":"{id}","org":"{org}","name":"{name}","preview":"{preview}","level":"project","project":"prj_benchmarkprojectid0000","environment":null,"target":"project","scopes":["deployments:read","deployments:write","tokens:read"],"created_by":{{"kind":"system","id":null,"name":"system"}},"created_at":"2026-12-02T13:05:55Z","last_used_at":"MARK","expires_at":null,"rotated_at":null,"previous_secret_valid_until":null,"revoked_at":null,"revoked_reason":null,"leak":null,"status":"active","allowed_ips":[],"parent":null}}"#,
        id = record.id,
        org = record.org_id,
        name = record.name,
        preview = record.preview,
    );
    SplitAnswer::cut(json.as_bytes(), b"\"MARK\"").unwrap()
}

/// Shuffles `items` (Fisher–Yates with a fixed xorshift sequence), so that
/// consecutive requests are for tokens far apart in memory.
fn shuffle<T>(items: &mut [T]) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

criterion_group!(benches, offline, hot_token, wide_answers, sqlite, postgres, cache_memory);
criterion_main!(benches);
