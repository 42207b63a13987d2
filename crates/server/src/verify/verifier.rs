//! The verifier: parse → checksum → digest → cache or lookup → status and
//! grace, recording each use in memory.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use gatepass_core::token::{self, SaltError, TokenDigest, TokenSalt, TokenStatus};
use gatepass_store::{Store, StoreError, TokenChanges, TokenRecord};
use time::OffsetDateTime;

use super::cache::{Lookup, VerifyCache};
use super::{RejectReason, VerifyError};

/// What the cache alone says of a presented token.
pub enum CachedVerdict {
    Valid(Arc<VerifiedToken>),
    Rejected(RejectReason),
    /// Not cached: only a database read can tell.
    Unknown,
}
use crate::last_used::LastUsed;
use crate::metrics::{bump, Metrics};

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
        let digest = self.digest(presented)?;
        let cached = match self.cache.get(&digest) {
            Lookup::Fresh(cached) => cached,
            Lookup::Refresh(cached) => self.renew(digest, cached).await,
            Lookup::Missing => self.read_store_once(digest).await?,
        };
        self.decide(cached, &digest, now).map_err(VerifyError::Rejected)
    }

    /// Decides a presented token from the cache alone, without reading the
    /// database: for addresses that have failed too often.
    pub fn verify_cached(&self, presented: &str, now: OffsetDateTime) -> Result<CachedVerdict, VerifyError> {
        let digest = match self.digest(presented) {
            Ok(digest) => digest,
            Err(VerifyError::Rejected(reason)) => return Ok(CachedVerdict::Rejected(reason)),
            Err(err) => return Err(err),
        };
        let cached = match self.cache.get(&digest) {
            Lookup::Fresh(cached) | Lookup::Refresh(cached) => cached,
            Lookup::Missing => return Ok(CachedVerdict::Unknown),
        };
        Ok(match self.decide(cached, &digest, now) {
            Ok(record) => CachedVerdict::Valid(record),
            Err(reason) => CachedVerdict::Rejected(reason),
        })
    }

    /// The digest of a well-formed token; a malformed one is rejected
    /// before any lookup.
    fn digest(&self, presented: &str) -> Result<TokenDigest, VerifyError> {
        let salt = self.salt()?;
        let parsed = token::parse(presented).map_err(|_| VerifyError::Rejected(RejectReason::Malformed))?;
        Ok(salt.digest(parsed.as_str()))
    }

    /// Whether the record found for `digest` accepts it now; records the use.
    fn decide(
        &self,
        found: Option<Arc<VerifiedToken>>,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Arc<VerifiedToken>, RejectReason> {
        let record = found.ok_or(RejectReason::Unknown)?;
        let status = TokenStatus::at(record.revoked_at, record.expires_at, now);
        if !record.secrets().accept(status, digest, now) {
            return Err(match status {
                TokenStatus::Revoked => RejectReason::Revoked,
                TokenStatus::Expired => RejectReason::Expired,
                TokenStatus::Active => RejectReason::Superseded,
            });
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

/// Applies the changes other nodes announce to `verifier`'s cache, until the feed ends.
pub fn spawn_change_listener(verifier: Arc<TokenVerifier>, mut changes: TokenChanges) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            verifier.cache().forget(change);
        }
    })
}

#[cfg(test)]
mod tests {
    use gatepass_core::token::{PlainToken, TokenKind};
    use gatepass_store_sqlite::SqliteStore;

    use super::*;

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
            assert!(matches!(check.await.unwrap(), Err(VerifyError::Rejected(RejectReason::Unknown))));
        }
        assert_eq!(metrics.verify_store_reads.load(Ordering::Relaxed), 1);
    }
}
