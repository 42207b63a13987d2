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
//! Digests that match no token are remembered for the same time, so a
//! well-formed but unknown token is rejected without a database read. That is
//! safe: a token's digest cannot be presented before the token exists, short
//! of guessing 178 random bits, so no new token is ever hidden by it.
//!
//! An entry also keeps the JSON answers rendered from its record (whoami,
//! introspection), so a hot token's answer is serialized once per entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gatepass_core::id::TokenId;
use gatepass_core::token::{self, SaltError, TokenDigest, TokenSalt};
use gatepass_store::{Store, StoreError, TokenChange, TokenRecord};
use parking_lot::RwLock;
use time::OffsetDateTime;

use crate::last_used::LastUsed;

/// How long a cached record is trusted before it is read again.
pub const MAX_ENTRY_AGE: Duration = Duration::from_millis(500);
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

    /// Whether this use starts a new second (and so must be recorded).
    fn first_use_this_second(&self, now: OffsetDateTime) -> bool {
        let second = now.unix_timestamp();
        self.last_noted_second.swap(second, Ordering::Relaxed) != second
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
}

#[derive(Default)]
struct Entries {
    by_digest: HashMap<TokenDigest, Cached>,
    /// Which digests each token is cached under (current and previous secret).
    digests_of: HashMap<TokenId, Vec<TokenDigest>>,
}

/// The per-node cache of verified token records.
#[derive(Default)]
pub struct VerifyCache {
    entries: RwLock<Entries>,
    /// Bumped by every invalidation, so that a lookup which started before an
    /// invalidation cannot put a stale record back afterwards.
    generation: AtomicU64,
}

impl VerifyCache {
    /// `Some(None)` when the digest is known to match no token.
    fn get(&self, digest: &TokenDigest) -> Option<Option<Arc<VerifiedToken>>> {
        let entries = self.entries.read();
        let cached = entries.by_digest.get(digest)?;
        (cached.fetched.elapsed() < MAX_ENTRY_AGE).then(|| cached.token.clone())
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
        entries.by_digest.insert(digest, Cached { token, fetched: Instant::now() });
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
}

pub struct TokenVerifier {
    salt: Result<TokenSalt, SaltError>,
    store: Arc<dyn Store>,
    last_used: Arc<LastUsed>,
    cache: VerifyCache,
}

impl TokenVerifier {
    pub fn new(salt: Result<TokenSalt, SaltError>, store: Arc<dyn Store>, last_used: Arc<LastUsed>) -> Self {
        Self { salt, store, last_used, cache: VerifyCache::default() }
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
            Some(cached) => cached,
            None => {
                let generation = self.cache.generation.load(Ordering::Acquire);
                let found = self.store.find_token_by_digest(&digest).await?.map(|r| Arc::new(VerifiedToken::new(r)));
                self.cache.insert(digest, found.clone(), generation);
                found
            }
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
    use gatepass_store::Actor;

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
        assert!(matches!(cache.get(&unknown), Some(None)), "an unknown digest is remembered as such");
        cache.forget(TokenChange::Token(token.id));
        assert!(cache.get(&current).is_none() && cache.get(&previous).is_none());
        assert!(cache.get(&other.digest).is_some());
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
        assert!(cache.get(&digest).is_none());
    }
}
