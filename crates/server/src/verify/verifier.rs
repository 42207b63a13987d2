//! The verifier: parse → checksum → digest → cache or lookup → status and
//! grace, noting each use in memory.

use std::hash::RandomState;
use std::sync::Arc;

use gatepass_core::id::TokenId;
use gatepass_core::token::{self, SaltError, TokenDigest, TokenSalt};
use gatepass_store::{Store, StoreError, TokenChangeRecord, TokenRecord};
use time::OffsetDateTime;

use super::answers::{AnswerCache, TokenAnswers};
use super::cache::{CachedToken, Lookup, Trust, VerifiedToken, VerifyCache};
use super::{RejectReason, VerifyError};
use crate::last_used::LastUsed;
use crate::metrics::{bump, Metrics};

/// What the cache alone says of a presented token.
pub enum CachedVerdict {
    Valid(VerifiedToken),
    Rejected(RejectReason),
    /// Not cached: only a database read can tell.
    Unknown,
}

/// How many tokens the verifier's caches keep at most.
#[derive(Debug, Clone, Copy)]
pub struct CacheSizes {
    /// Verdicts by digest (tokens and unknown digests).
    pub verdicts: usize,
    /// Full records with their rendered answers, by token id.
    pub answers: usize,
}

impl Default for CacheSizes {
    fn default() -> Self {
        Self { verdicts: super::cache::DEFAULT_CAPACITY, answers: super::answers::DEFAULT_CAPACITY }
    }
}

pub struct TokenVerifier {
    salt: Result<TokenSalt, SaltError>,
    store: Arc<dyn Store>,
    last_used: Arc<LastUsed>,
    metrics: Arc<Metrics>,
    cache: VerifyCache,
    answers: AnswerCache,
}

impl TokenVerifier {
    /// A verifier whose caches are trusted as `trust` says: always on a
    /// single node, while following the change log on a shared database.
    pub fn new(
        salt: Result<TokenSalt, SaltError>,
        store: Arc<dyn Store>,
        last_used: Arc<LastUsed>,
        metrics: Arc<Metrics>,
        sizes: CacheSizes,
        trust: Trust,
    ) -> Self {
        Self {
            salt,
            store,
            last_used,
            metrics,
            cache: VerifyCache::new(sizes.verdicts, trust),
            answers: AnswerCache::new(sizes.answers, RandomState::new()),
        }
    }

    pub fn salt(&self) -> Result<&TokenSalt, SaltError> {
        self.salt.as_ref().map_err(Clone::clone)
    }

    pub fn cache(&self) -> &VerifyCache {
        &self.cache
    }

    /// Checks a presented token; on success notes the use (in memory).
    pub async fn verify(&self, presented: &str, now: OffsetDateTime) -> Result<VerifiedToken, VerifyError> {
        let digest = self.digest(presented)?;
        let cached = match self.cache.get(&digest) {
            Lookup::Hit(cached) => cached,
            Lookup::Miss => self.read_store_once(digest).await?,
        };
        self.decide(cached, now).map_err(VerifyError::Rejected)
    }

    /// Decides a presented token from the cache alone, without reading the
    /// database: for addresses that have failed too often.
    pub fn verify_cached(&self, presented: &str, now: OffsetDateTime) -> Result<CachedVerdict, VerifyError> {
        let digest = match self.digest(presented) {
            Ok(digest) => digest,
            Err(VerifyError::Rejected(reason)) => return Ok(CachedVerdict::Rejected(reason)),
            Err(err) => return Err(err),
        };
        let Lookup::Hit(cached) = self.cache.get(&digest) else {
            return Ok(CachedVerdict::Unknown);
        };
        Ok(match self.decide(cached, now) {
            Ok(verified) => CachedVerdict::Valid(verified),
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

    fn decide(&self, cached: Option<CachedToken>, now: OffsetDateTime) -> Result<VerifiedToken, RejectReason> {
        let verified = cached.ok_or(RejectReason::Unknown)?.decide(now)?;
        self.last_used.touch_once_a_second(verified.id, now);
        Ok(verified)
    }

    /// Reads the digest's record unless a concurrent miss on the same digest
    /// has just done so.
    async fn read_store_once(&self, digest: TokenDigest) -> Result<Option<CachedToken>, StoreError> {
        let _one_at_a_time = self.cache.stripe(&digest).lock().await;
        match self.cache.get(&digest) {
            Lookup::Hit(cached) => Ok(cached),
            Lookup::Miss => self.read_store(digest).await,
        }
    }

    async fn read_store(&self, digest: TokenDigest) -> Result<Option<CachedToken>, StoreError> {
        let generation = self.cache.generation();
        bump(&self.metrics.verify_store_reads);
        let cached = self.store.find_token_by_digest(&digest).await?.map(|record| CachedToken::of(&record, &digest));
        self.cache.insert(digest, cached, generation);
        Ok(cached)
    }

    /// A token's full record with its rendered answers, from the answer
    /// cache or, on a miss, the database.
    pub async fn answers(&self, id: TokenId) -> Result<Option<Arc<TokenAnswers>>, StoreError> {
        if let Some(answers) = self.answers.get(&id) {
            return Ok(Some(answers));
        }
        let generation = self.answers.generation();
        let Some(record) = self.store.find_token(id).await? else {
            return Ok(None);
        };
        let answers = Arc::new(TokenAnswers::new(record));
        self.answers.insert_unless_changed(id, answers.clone(), generation);
        Ok(Some(answers))
    }

    /// Drops everything cached of `record` (as it was before a change this
    /// node just made).
    pub fn forget_token(&self, record: &TokenRecord) {
        let digests: Vec<TokenDigest> = std::iter::once(record.digest).chain(record.previous_digest).collect();
        self.cache.forget(&digests);
        self.answers.forget(&[record.id]);
    }

    /// Drops what is cached for a change the token change log records.
    pub fn apply(&self, change: &TokenChangeRecord) {
        self.cache.forget(&change.digests);
        self.answers.forget(&[change.token_id]);
    }

    /// Drops everything cached (many tokens changed, or changes may have been missed).
    pub fn forget_all(&self) {
        self.cache.clear();
        self.answers.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use gatepass_core::token::{PlainToken, TokenKind};
    use gatepass_store_sqlite::SqliteStore;

    use super::*;

    async fn verifier() -> (TokenVerifier, Arc<Metrics>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_in_dir(dir.path()).await.unwrap());
        let metrics = Arc::new(Metrics::default());
        let salt = TokenSalt::new(b"verify-unit-test-salt-verify-unit-test").unwrap();
        let last_used = Arc::new(LastUsed::default());
        let verifier =
            TokenVerifier::new(Ok(salt), store, last_used, metrics.clone(), CacheSizes::default(), Trust::always());
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
