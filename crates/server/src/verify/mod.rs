//! The verify path: parse → checksum → digest → cache or lookup → status and
//! grace. The scope check happens in `gatepass_core::access`, once the caller
//! knows what the request wants to do.
//!
//! Verified records are cached per node by digest, so a hot token costs no
//! database round trip. Correctness under revocation:
//! - this node forgets a token as soon as it rotates, revokes or deletes it;
//! - other nodes hear of it through the store's change feed (PostgreSQL
//!   LISTEN/NOTIFY) and forget it too;
//! - and no entry is trusted for longer than [`MAX_ENTRY_AGE`], which bounds
//!   staleness even when a notification is lost.
//!
//! A hot entry is renewed by one request once it is [`REFRESH_AFTER`] old,
//! and concurrent misses on one digest share a single database read, so a
//! token's traffic never stampedes the database.
//!
//! Digests that match no token are remembered for the same time, so a
//! well-formed but unknown token is rejected without a database read. That is
//! safe: a token's digest cannot be presented before the token exists, short
//! of guessing 178 random bits, so no new token is ever hidden by it.
//!
//! An entry also keeps the JSON answers rendered from its record (whoami,
//! introspection), so a hot token's answer is serialized once per entry.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gatepass_core::id::TokenId;
use gatepass_core::token::{self, SaltError, TokenDigest, TokenSalt};
use gatepass_store::{Store, StoreError, TokenChange, TokenRecord};
use parking_lot::RwLock;
use time::OffsetDateTime;

use crate::last_used::LastUsed;
use crate::metrics::{bump, Metrics};

/// How long a cached record is trusted: older entries are read again before use.
pub const MAX_ENTRY_AGE: Duration = Duration::from_millis(500);
/// From this age on, the first request to use an entry reads its record again
/// (the others keep using it), so a hot token's entry is renewed before it
/// expires and its traffic never waits on the database all at once. Close to
/// [`MAX_ENTRY_AGE`], so a hot token costs about 2.5 reads a second, not 4.
pub const REFRESH_AFTER: Duration = Duration::from_millis(400);
/// Past this many entries the cache starts over (a bound on memory, ~300 B each).
const MAX_ENTRIES: usize = 2_000_000;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No usable salt: the server cannot tell valid tokens from invalid ones.
    #[error(transparent)]
    Salt(#[from] SaltError),
    /// Malformed, unknown, expired or revoked: deliberately one case.
    #[error("invalid token")]
    Rejected,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A verified token record, with the answers rendered from it.
pub struct VerifiedToken {
    record: TokenRecord,
    /// `GET /v1/token`'s body for this record.
    pub whoami_body: OnceLock<axum::body::Bytes>,
    /// `POST /v1/introspect`'s body for this record.
    pub introspection_body: OnceLock<axum::body::Bytes>,
    /// The Unix second of the last use passed on to [`LastUsed`]: a token
    /// used many times a second takes that lock once a second.
    last_noted_second: AtomicI64,
}

impl VerifiedToken {
    pub fn new(record: TokenRecord) -> Self {
        Self {
            record,
            whoami_body: OnceLock::new(),
            introspection_body: OnceLock::new(),
            last_noted_second: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether this use starts a new second (and so must be recorded). Reads
    /// before it writes: the entry is shared by every core serving the
    /// token, and a write on each use would bounce it between them.
    fn first_use_this_second(&self, now: OffsetDateTime) -> bool {
        let second = now.unix_timestamp();
        self.last_noted_second.load(Ordering::Relaxed) != second
            && self.last_noted_second.swap(second, Ordering::Relaxed) != second
    }
}

impl std::ops::Deref for VerifiedToken {
    type Target = TokenRecord;
    fn deref(&self) -> &TokenRecord {
        &self.record
    }
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.record.fmt(f)
    }
}

struct Cached {
    /// `None`: no token has this digest.
    token: Option<Arc<VerifiedToken>>,
    fetched: Instant,
    /// Set by the one request that reads a stale entry's record again.
    refresh_claimed: AtomicBool,
}

/// What the cache knows of a digest.
enum Lookup {
    /// Fresh: use as it is.
    Fresh(Option<Arc<VerifiedToken>>),
    /// Still trusted, but this caller was picked to read the record again.
    Refresh(Option<Arc<VerifiedToken>>),
    /// Never read, or too old to trust.
    Missing,
}

/// Digests are HMAC-SHA256 outputs under the server's secret salt: uniformly
/// spread and impossible for a client to choose, so folding their words
/// together is already a good hash and SipHash would be wasted work on every
/// verify.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_ne_bytes(word);
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = self.0.rotate_left(29) ^ word;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
struct Entries {
    by_digest: HashMap<TokenDigest, Cached, BuildHasherDefault<DigestHasher>>,
    /// Which digests each token is cached under (current and previous secret).
    digests_of: HashMap<TokenId, Vec<TokenDigest>>,
}

/// Concurrent misses on one digest wait for a single database read; misses
/// on different digests rarely share a stripe.
const LOOKUP_STRIPES: usize = 64;

/// The per-node cache of verified token records.
pub struct VerifyCache {
    entries: RwLock<Entries>,
    /// Bumped by every invalidation, so that a lookup which started before an
    /// invalidation cannot put a stale record back afterwards.
    generation: AtomicU64,
    lookups_in_flight: [tokio::sync::Mutex<()>; LOOKUP_STRIPES],
}

impl Default for VerifyCache {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
            lookups_in_flight: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }
}

impl VerifyCache {
    fn get(&self, digest: &TokenDigest) -> Lookup {
        let entries = self.entries.read();
        let Some(cached) = entries.by_digest.get(digest) else {
            return Lookup::Missing;
        };
        let age = cached.fetched.elapsed();
        if age < REFRESH_AFTER {
            Lookup::Fresh(cached.token.clone())
        } else if age >= MAX_ENTRY_AGE {
            Lookup::Missing
        } else if cached.refresh_claimed.swap(true, Ordering::Relaxed) {
            Lookup::Fresh(cached.token.clone())
        } else {
            Lookup::Refresh(cached.token.clone())
        }
    }

    fn insert(&self, digest: TokenDigest, token: Option<Arc<VerifiedToken>>, generation: u64) {
        let mut entries = self.entries.write();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.by_digest.len() >= MAX_ENTRIES {
            *entries = Entries::default();
        }
        if let Some(token) = &token {
            let digests = entries.digests_of.entry(token.id).or_default();
            if !digests.contains(&digest) {
                digests.push(digest);
            }
        }
        let cached = Cached { token, fetched: Instant::now(), refresh_claimed: AtomicBool::new(false) };
        entries.by_digest.insert(digest, cached);
    }

    /// Drops what is cached for `change`.
    pub fn forget(&self, change: TokenChange) {
        let mut entries = self.entries.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        match change {
            TokenChange::Token(id) => {
                for digest in entries.digests_of.remove(&id).unwrap_or_default() {
                    entries.by_digest.remove(&digest);
                }
            }
            TokenChange::All => *entries = Entries::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.read().by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn stripe(&self, digest: &TokenDigest) -> &tokio::sync::Mutex<()> {
        &self.lookups_in_flight[usize::from(digest.as_bytes()[0]) % LOOKUP_STRIPES]
    }
}

pub struct TokenVerifier {
    salt: Result<TokenSalt, SaltError>,
    store: Arc<dyn Store>,
    last_used: Arc<LastUsed>,
    metrics: Arc<Metrics>,
    cache: VerifyCache,
}

impl TokenVerifier {
    pub fn new(
        salt: Result<TokenSalt, SaltError>,
        store: Arc<dyn Store>,
        last_used: Arc<LastUsed>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { salt, store, last_used, metrics, cache: VerifyCache::default() }
    }

    pub fn salt(&self) -> Result<&TokenSalt, SaltError> {
        self.salt.as_ref().map_err(Clone::clone)
    }

    pub fn cache(&self) -> &VerifyCache {
        &self.cache
    }

    /// Checks a presented token; on success records the use (in memory).
    pub async fn verify(&self, presented: &str, now: OffsetDateTime) -> Result<Arc<VerifiedToken>, VerifyError> {
        let salt = self.salt()?;
        // A malformed token is rejected before any lookup.
        let parsed = token::parse(presented).map_err(|_| VerifyError::Rejected)?;
        let digest = salt.digest(parsed.as_str());
        let cached = match self.cache.get(&digest) {
            Lookup::Fresh(cached) => cached,
            Lookup::Refresh(cached) => self.renew(digest, cached).await,
            Lookup::Missing => self.read_store_once(digest).await?,
        };
        let record = cached.ok_or(VerifyError::Rejected)?;
        if !record.accepts(&digest, now) {
            return Err(VerifyError::Rejected);
        }
        if record.first_use_this_second(now) {
            self.last_used.touch(record.id, now);
        }
        Ok(record)
    }

    /// Reads the digest's record unless a concurrent miss on the same digest
    /// has just done so.
    async fn read_store_once(&self, digest: TokenDigest) -> Result<Option<Arc<VerifiedToken>>, StoreError> {
        let _one_at_a_time = self.cache.stripe(&digest).lock().await;
        match self.cache.get(&digest) {
            Lookup::Fresh(cached) => Ok(cached),
            Lookup::Refresh(cached) => Ok(self.renew(digest, cached).await),
            Lookup::Missing => self.read_store(digest).await,
        }
    }

    /// Reads an ageing entry's record again. The entry is still within its
    /// trust bound, so a failed read leaves it in use rather than failing
    /// the request.
    async fn renew(&self, digest: TokenDigest, cached: Option<Arc<VerifiedToken>>) -> Option<Arc<VerifiedToken>> {
        self.read_store(digest).await.unwrap_or(cached)
    }

    async fn read_store(&self, digest: TokenDigest) -> Result<Option<Arc<VerifiedToken>>, StoreError> {
        let generation = self.cache.generation.load(Ordering::Acquire);
        bump(&self.metrics.verify_store_reads);
        let found = self.store.find_token_by_digest(&digest).await?.map(|r| Arc::new(VerifiedToken::new(r)));
        self.cache.insert(digest, found.clone(), generation);
        Ok(found)
    }
}

/// Applies the changes other nodes announce, until the feed ends.
pub fn spawn_change_listener(
    state: crate::state::AppState,
    mut changes: gatepass_store::TokenChanges,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            state.verifier.cache().forget(change);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepass_core::id::OrgId;
    use gatepass_core::reach::Reach;
    use gatepass_core::scope::Scopes;
    use gatepass_core::token::{PlainToken, TokenKind};
    use gatepass_store::Actor;
    use gatepass_store_sqlite::SqliteStore;

    fn record(digest: TokenDigest) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken::new(TokenRecord {
            id: TokenId::generate(),
            org_id: OrgId::generate(),
            name: "t".into(),
            reach: Reach::Org,
            scopes: Scopes::all(),
            preview: "gpo_x…y".into(),
            digest,
            previous_digest: None,
            previous_valid_until: None,
            created_by: Actor::system(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            rotated_at: None,
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
        }))
    }

    fn is_cached(lookup: Lookup) -> bool {
        !matches!(lookup, Lookup::Missing)
    }

    /// Makes the entry for `digest` look `age` old.
    fn age_entry(cache: &VerifyCache, digest: &TokenDigest, age: Duration) {
        let mut entries = cache.entries.write();
        let cached = entries.by_digest.get_mut(digest).unwrap();
        cached.fetched = Instant::now() - age;
    }

    #[test]
    fn forgetting_a_token_drops_every_digest_it_is_cached_under() {
        let cache = VerifyCache::default();
        let (current, previous) = (TokenDigest::from_bytes([1; 32]), TokenDigest::from_bytes([2; 32]));
        let token = record(current);
        cache.insert(current, Some(token.clone()), 0);
        cache.insert(previous, Some(token.clone()), 0);
        let other = record(TokenDigest::from_bytes([3; 32]));
        cache.insert(other.digest, Some(other.clone()), 0);
        let unknown = TokenDigest::from_bytes([4; 32]);
        cache.insert(unknown, None, 0);
        assert!(matches!(cache.get(&unknown), Lookup::Fresh(None)), "an unknown digest is remembered as such");
        cache.forget(TokenChange::Token(token.id));
        assert!(!is_cached(cache.get(&current)) && !is_cached(cache.get(&previous)));
        assert!(is_cached(cache.get(&other.digest)));
        cache.forget(TokenChange::All);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_does_not_repopulate_the_cache() {
        let cache = VerifyCache::default();
        let digest = TokenDigest::from_bytes([1; 32]);
        let started_at = cache.generation.load(Ordering::Acquire);
        // The token is revoked while the database read is in flight…
        cache.forget(TokenChange::All);
        // …so the (now stale) record it returns must not be cached.
        cache.insert(digest, Some(record(digest)), started_at);
        assert!(!is_cached(cache.get(&digest)));
    }

    #[test]
    fn an_ageing_entry_is_renewed_by_one_caller_and_an_old_one_is_not_trusted() {
        let cache = VerifyCache::default();
        let digest = TokenDigest::from_bytes([1; 32]);
        cache.insert(digest, Some(record(digest)), 0);
        assert!(matches!(cache.get(&digest), Lookup::Fresh(Some(_))));
        age_entry(&cache, &digest, REFRESH_AFTER);
        assert!(matches!(cache.get(&digest), Lookup::Refresh(Some(_))), "the first caller renews it");
        assert!(matches!(cache.get(&digest), Lookup::Fresh(Some(_))), "the others keep using it meanwhile");
        age_entry(&cache, &digest, MAX_ENTRY_AGE);
        assert!(matches!(cache.get(&digest), Lookup::Missing));
    }

    #[test]
    fn digest_hashing_spreads_digests_that_share_a_prefix() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hasher = BuildHasherDefault::<DigestHasher>::default();
        let mut a = [7u8; 32];
        let mut b = a;
        a[31] = 1;
        b[31] = 2;
        let (a, b) = (TokenDigest::from_bytes(a), TokenDigest::from_bytes(b));
        assert_ne!(hasher.hash_one(a), hasher.hash_one(b));
    }

    async fn verifier() -> (TokenVerifier, Arc<Metrics>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_in_dir(dir.path()).await.unwrap());
        let metrics = Arc::new(Metrics::default());
        let salt = TokenSalt::new(b"verify-unit-test-salt-verify-unit-test").unwrap();
        let verifier = TokenVerifier::new(Ok(salt), store, Arc::new(LastUsed::default()), metrics.clone());
        (verifier, metrics, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_on_one_digest_share_one_database_read() {
        let (verifier, metrics, _dir) = verifier().await;
        let verifier = Arc::new(verifier);
        let unknown = PlainToken::generate(TokenKind::Deploy);
        let checks: Vec<_> = (0..32)
            .map(|_| {
                let (verifier, unknown) = (verifier.clone(), unknown.expose_secret().to_owned());
                tokio::spawn(async move { verifier.verify(&unknown, OffsetDateTime::now_utc()).await })
            })
            .collect();
        for check in checks {
            assert!(matches!(check.await.unwrap(), Err(VerifyError::Rejected)));
        }
        assert_eq!(metrics.verify_store_reads.load(Ordering::Relaxed), 1);
    }
}
