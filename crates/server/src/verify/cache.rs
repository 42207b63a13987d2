//! The per-node cache of verified token records, by digest. Entries are
//! trusted for at most [`MAX_ENTRY_AGE`]; an invalidation drops them at once
//! and bumps a generation, so a lookup that raced it cannot put a stale
//! record back.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatepass_core::id::TokenId;
use gatepass_core::token::TokenDigest;
use gatepass_store::TokenChange;
use parking_lot::RwLock;

use super::VerifiedToken;

/// How long a cached record is trusted: older entries are read again before use.
pub const MAX_ENTRY_AGE: Duration = Duration::from_millis(500);
/// From this age on, the first request to use an entry reads its record again
/// (the others keep using it), so a hot token's entry is renewed before it
/// expires and its traffic never waits on the database all at once. Close to
/// [`MAX_ENTRY_AGE`], so a hot token costs about 2.5 reads a second, not 4.
pub const REFRESH_AFTER: Duration = Duration::from_millis(400);
/// Past this many entries the cache starts over (a bound on memory, ~300 B each).
const MAX_ENTRIES: usize = 2_000_000;

pub(super) struct Cached {
    /// `None`: no token has this digest.
    token: Option<Arc<VerifiedToken>>,
    fetched: Instant,
    /// Set by the one request that reads a stale entry's record again.
    refresh_claimed: AtomicBool,
}

/// What the cache knows of a digest.
pub(super) enum Lookup {
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
    pub(super) generation: AtomicU64,
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
    pub(super) fn get(&self, digest: &TokenDigest) -> Lookup {
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

    pub(super) fn insert(&self, digest: TokenDigest, token: Option<Arc<VerifiedToken>>, generation: u64) {
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

    pub(super) fn stripe(&self, digest: &TokenDigest) -> &tokio::sync::Mutex<()> {
        &self.lookups_in_flight[usize::from(digest.as_bytes()[0]) % LOOKUP_STRIPES]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepass_core::id::OrgId;
    use gatepass_core::reach::Reach;
    use gatepass_core::scope::Scopes;
    use gatepass_store::{Actor, TokenRecord};
    use time::OffsetDateTime;

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
            revoked_reason: None,
            leak: None,
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
}
