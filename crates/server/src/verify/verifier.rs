//! The verifier: parse → checksum → digest → cache or lookup → status and
//! grace → allow list, noting each use in memory.
//!
//! During a salt rotation a digest that matches nothing is tried once more
//! under the previous salt (its "unknown" verdict is cached like any
//! other, so an invalid token costs two HMACs and two cache lookups, never
//! more); a token found that way is re-digested under the current salt,
//! once, on that first use. Without a previous salt the invalid-token path
//! is what it was, plus one branch.

use std::net::IpAddr;
use std::sync::Arc;

use gatepass_core::id::TokenId;
use gatepass_core::token::{self, SaltError, TokenDigest, TokenSalt};
use gatepass_store::{Rehash, Store, StoreError, TokenChangeRecord, TokenRecord};
use time::OffsetDateTime;

use super::answers::{AnswerCache, TokenAnswers};
use super::cache::{CachedToken, Lookup, Trust, VerifiedToken, VerifyCache};
use super::{RejectReason, VerifyError};
use crate::last_used::LastUsed;
use crate::metrics::{bump, Metrics};
use crate::periodic::{spawn_every, OnShutdown};

/// What the cache alone says of a presented token.
pub enum CachedVerdict {
    Valid(VerifiedToken),
    Rejected(RejectReason),
    /// Valid, but not from the request's address.
    IpNotAllowed(Box<VerifiedToken>),
    /// Not cached: only a database read can tell.
    Unknown,
}

/// What the caches, or a read, know of a digest.
enum Found {
    /// Its verdict (`None`: no token has this digest).
    Verdict(Option<CachedToken>),
    /// Its verdict with its record and answers.
    Answers(Arc<TokenAnswers>),
}

impl Found {
    fn verdict(&self) -> Option<&CachedToken> {
        match self {
            Found::Verdict(verdict) => verdict.as_ref(),
            Found::Answers(answers) => Some(&answers.verdict),
        }
    }
}

/// How many tokens the verifier's caches keep at most.
#[derive(Debug, Clone, Copy)]
pub struct CacheSizes {
    /// Verdicts by digest (tokens and unknown digests).
    pub verdicts: usize,
    /// Full records with their verdicts and rendered answers, by digest.
    pub answers: usize,
}

impl Default for CacheSizes {
    fn default() -> Self {
        Self { verdicts: super::cache::DEFAULT_CAPACITY, answers: super::answers::DEFAULT_CAPACITY }
    }
}

/// How many cached answers hand over their kept uses before a flush lets
/// other tasks run (under a millisecond of work).
const HAND_OVERS_BETWEEN_YIELDS: usize = 1024;

pub struct TokenVerifier {
    salt: Result<TokenSalt, SaltError>,
    /// The salt being rotated away from, with the current salt's fingerprint
    /// (what a re-made digest is stored under).
    rotation: Option<(TokenSalt, String)>,
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
            rotation: None,
            store,
            last_used,
            metrics,
            cache: VerifyCache::new(sizes.verdicts, trust),
            answers: AnswerCache::new(sizes.answers, Default::default()),
        }
    }

    /// Also accepts digests made under `previous`, re-making each under the
    /// current salt on its first use: a salt rotation without downtime.
    pub fn with_previous_salt(mut self, previous: Option<TokenSalt>) -> Self {
        let current = self.salt.as_ref().ok().map(TokenSalt::fingerprint);
        self.rotation = previous.zip(current);
        self
    }

    pub fn salt(&self) -> Result<&TokenSalt, SaltError> {
        self.salt.as_ref().map_err(Clone::clone)
    }

    /// The previous salt of a rotation in progress, if any.
    pub fn previous_salt(&self) -> Option<&TokenSalt> {
        self.rotation.as_ref().map(|(salt, _)| salt)
    }

    pub fn cache(&self) -> &VerifyCache {
        &self.cache
    }

    /// Checks a presented token used from `client_ip` (`None`: presented to
    /// be described, not used, so its allow list does not apply); on
    /// success notes the use (in memory).
    pub async fn verify(
        &self,
        presented: &str,
        client_ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, VerifyError> {
        let salt = self.salt()?;
        let parsed = token::parse(presented).map_err(|_| VerifyError::Rejected(RejectReason::Malformed))?;
        let digest = salt.digest(parsed.as_str());
        // What the caches decide costs no await; a read and a previous
        // salt run in futures boxed apart from the common path's.
        let cached = match self.cached(&digest) {
            Some(cached) => cached,
            None => Box::pin(self.read_store_once(digest)).await?,
        };
        if cached.verdict().is_none() && self.rotation.is_some() {
            if let Some(verified) = Box::pin(self.verify_under_previous_salt(parsed, digest, client_ip, now)).await? {
                return Ok(verified);
            }
        }
        self.decide(cached, &digest, client_ip, now)
    }

    /// A token no digest under the current salt (`digest`) matches, tried
    /// under the previous salt and, if found, re-digested under the current
    /// one (`None`: not found there either).
    async fn verify_under_previous_salt(
        &self,
        parsed: token::ParsedToken<'_>,
        digest: TokenDigest,
        client_ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<Option<VerifiedToken>, VerifyError> {
        let Some((previous, fingerprint)) = &self.rotation else {
            return Ok(None);
        };
        let old = previous.digest(parsed.as_str());
        let found = self.lookup(old).await?;
        let Some(is_current_secret) = found.verdict().map(CachedToken::is_current_secret) else {
            return Ok(None);
        };
        let mut verified = self.decide(found, &old, client_ip, now)?;
        if is_current_secret {
            verified.digest = self.rehash(verified.id, old, digest, fingerprint).await;
            // What was cached of it is keyed by the old digest: the request
            // answers from a lookup under the digest it is stored under now.
            verified.answers = None;
        }
        Ok(Some(verified))
    }

    /// Decides a presented token from the cache alone, without reading the
    /// database: for addresses that have failed too often. (A token found
    /// under a previous salt is re-digested on a later, unlimited use.)
    pub fn verify_cached(
        &self,
        presented: &str,
        client_ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<CachedVerdict, VerifyError> {
        let salt = self.salt()?;
        let Ok(parsed) = token::parse(presented) else {
            return Ok(CachedVerdict::Rejected(RejectReason::Malformed));
        };
        let mut digest = salt.digest(parsed.as_str());
        let Some(mut cached) = self.cached(&digest) else {
            return Ok(CachedVerdict::Unknown);
        };
        if cached.verdict().is_none() {
            if let Some((previous, _)) = &self.rotation {
                digest = previous.digest(parsed.as_str());
                match self.cached(&digest) {
                    Some(found) => cached = found,
                    None => return Ok(CachedVerdict::Unknown),
                }
            }
        }
        Ok(match self.decide(cached, &digest, client_ip, now) {
            Ok(verified) => CachedVerdict::Valid(verified),
            Err(VerifyError::IpNotAllowed(verified)) => CachedVerdict::IpNotAllowed(verified),
            Err(VerifyError::Rejected(reason)) => CachedVerdict::Rejected(reason),
            Err(err) => return Err(err),
        })
    }

    /// What the caches or, on a miss, the database say of a digest.
    async fn lookup(&self, digest: TokenDigest) -> Result<Found, StoreError> {
        match self.cached(&digest) {
            Some(cached) => Ok(cached),
            None => self.read_store_once(digest).await,
        }
    }

    /// What the caches alone say of a digest (`None`: they cannot tell):
    /// the verdict kept with its answers if they are cached, so a request
    /// that goes on to use them has them at hand.
    fn cached(&self, digest: &TokenDigest) -> Option<Found> {
        if !self.cache.trust.is_trusted() {
            return None;
        }
        if let Some(answers) = self.answers.get(digest) {
            // Loaded while the request is decided and its handler runs.
            answers.prefetch_whoami();
            return Some(Found::Answers(answers));
        }
        match self.cache.get(digest) {
            Lookup::Hit(cached) => Some(Found::Verdict(cached)),
            Lookup::Miss => None,
        }
    }

    /// Status, grace, then the allow list: a request from outside the list
    /// learns only once the token is known to be valid, and is not a use.
    fn decide(
        &self,
        found: Found,
        digest: &TokenDigest,
        client_ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, VerifyError> {
        let cached = found.verdict().ok_or(VerifyError::Rejected(RejectReason::Unknown))?;
        let mut verified = cached.decide(digest, now).map_err(VerifyError::Rejected)?;
        let admitted = cached.admits(client_ip);
        if let Found::Answers(answers) = found {
            verified.answers = Some(answers);
        }
        if !admitted {
            return Err(VerifyError::IpNotAllowed(Box::new(verified)));
        }
        match &verified.answers {
            Some(answers) => answers.used.note(now),
            None => self.last_used.touch_once_a_second(verified.id, now),
        }
        Ok(verified)
    }

    /// Moves a token found under the previous salt to the current one, and
    /// answers the digest it is stored under now. A concurrent first use
    /// (here or on another node) may have done it already; a failure only
    /// means the next use tries again.
    async fn rehash(&self, id: TokenId, old: TokenDigest, new: TokenDigest, fingerprint: &str) -> TokenDigest {
        let rehash = Rehash { old, new, salt_fingerprint: fingerprint.to_owned() };
        match self.store.rehash_token(id, &rehash).await {
            Ok(done) => {
                if done {
                    bump(&self.metrics.tokens_rehashed);
                    tracing::info!(token = %id, "token re-digested under the current salt on its first use");
                }
                self.cache.forget(&[old, new]);
                self.answers.forget(&[old, new]);
                new
            }
            Err(err) => {
                tracing::warn!(token = %id, error = %err, "re-digesting a token under the current salt failed");
                old
            }
        }
    }

    /// Reads the digest's record unless a concurrent miss on the same digest
    /// has just done so.
    async fn read_store_once(&self, digest: TokenDigest) -> Result<Found, StoreError> {
        let _one_at_a_time = self.cache.stripe(&digest).lock().await;
        match self.cached(&digest) {
            Some(cached) => Ok(cached),
            None => self.read_store(digest).await,
        }
    }

    async fn read_store(&self, digest: TokenDigest) -> Result<Found, StoreError> {
        let generation = self.cache.generation();
        bump(&self.metrics.verify_store_reads);
        let cached = self.store.find_token_by_digest(&digest).await?.map(|record| CachedToken::of(&record, &digest));
        self.cache.insert(digest, cached.clone(), generation);
        Ok(Found::Verdict(cached))
    }

    /// A verified token's full record with its rendered answers, from the
    /// answer cache or, on a miss, the database (`None`: it has gone since).
    pub async fn answers(&self, token: &VerifiedToken) -> Result<Option<Arc<TokenAnswers>>, StoreError> {
        if let Some(answers) = &token.answers {
            return Ok(Some(answers.clone()));
        }
        if let Some(answers) = self.answers.get(&token.digest) {
            return Ok(Some(answers));
        }
        let generation = self.answers.generation();
        let found = self.store.find_token_by_digest(&token.digest).await?;
        let Some(record) = found.filter(|record| record.id == token.id) else {
            return Ok(None);
        };
        let answers = Arc::new(TokenAnswers::new(record, &token.digest, self.last_used.clone()));
        // Its verdict will decide requests: cached only while the verdicts are.
        if self.cache.trust.is_trusted() {
            self.answers.insert_unless_changed(token.digest, answers.clone(), generation);
        }
        Ok(Some(answers))
    }

    /// Drops everything cached of `record` (as it was before a change this
    /// node just made).
    pub fn forget_token(&self, record: &TokenRecord) {
        let digests: Vec<TokenDigest> = std::iter::once(record.digest).chain(record.previous_digest).collect();
        self.cache.forget(&digests);
        self.answers.forget(&digests);
    }

    /// Drops what is cached for a change the token change log records.
    pub fn apply(&self, change: &TokenChangeRecord) {
        self.cache.forget(&change.digests);
        self.answers.forget(&change.digests);
    }

    /// Writes the last-used times noted since the last flush, the uses kept
    /// in cached answers included, in one batch. Gathering the kept uses
    /// lets the worker serve other tasks every [`HAND_OVERS_BETWEEN_YIELDS`]
    /// entries: with 200,000 tokens cached it takes about 150 ms, which the
    /// requests queued on its worker would otherwise wait out.
    pub async fn flush_last_used(&self, store: &dyn Store, metrics: &Metrics) {
        self.hand_over_kept_uses().await;
        self.last_used.flush(store, metrics).await;
    }

    async fn hand_over_kept_uses(&self) {
        for (handed_over, answers) in self.answers.values().enumerate() {
            self.last_used.hand_over(answers.record.id, &answers.used);
            if (handed_over + 1) % HAND_OVERS_BETWEEN_YIELDS == 0 {
                tokio::task::yield_now().await;
            }
        }
    }

    /// Flushes last-used times to the verifier's own store every `interval`
    /// until `shutdown` fires, then once more.
    pub fn spawn_last_used_flusher(
        self: Arc<Self>,
        interval: std::time::Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        spawn_every(interval, shutdown, OnShutdown::RunOnceMore, move || {
            let verifier = self.clone();
            async move { verifier.flush_last_used(verifier.store.as_ref(), &verifier.metrics).await }
        })
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
                tokio::spawn(async move { verifier.verify(&unknown, None, OffsetDateTime::now_utc()).await })
            })
            .collect();
        for check in checks {
            assert!(matches!(check.await.unwrap(), Err(VerifyError::Rejected(RejectReason::Unknown))));
        }
        assert_eq!(metrics.verify_store_reads.load(Ordering::Relaxed), 1);
    }

    /// A token in its own org, as the store keeps it, with its plaintext.
    async fn stored_token(verifier: &TokenVerifier) -> (TokenRecord, PlainToken) {
        use gatepass_core::id::{OrgId, UserId};
        use gatepass_store::{Actor, NewToken, Org, User};
        let now = OffsetDateTime::now_utc();
        let owner = User {
            id: UserId::generate(),
            email: "owner@example.test".into(),
            password_hash: "x".into(),
            instance_admin: false,
            created_at: now,
        };
        verifier.store.create_user(&owner).await.unwrap();
        let org = Org {
            id: OrgId::generate(),
            name: "Org".into(),
            slug: "org".into(),
            plan: gatepass_core::plan::Plan::Team,
            created_at: now,
        };
        verifier.store.create_org(&org, owner.id).await.unwrap();
        let plain = PlainToken::generate(TokenKind::Deploy);
        let token = NewToken {
            id: TokenId::generate(),
            org_id: org.id,
            name: "ci".into(),
            reach: gatepass_core::reach::Reach::Org,
            scopes: gatepass_core::scope::Scopes::all(),
            preview: plain.preview(),
            digest: verifier.salt().unwrap().digest(plain.expose_secret()),
            created_by: Actor::system(),
            created_at: now,
            expires_at: None,
            allowed_ips: Default::default(),
            parent_id: None,
            salt_fingerprint: String::new(),
            source: gatepass_core::token::TokenSource::User,
        };
        verifier.store.insert_token(&token).await.unwrap();
        (verifier.store.find_token(token.id).await.unwrap().unwrap(), plain)
    }

    #[tokio::test]
    async fn a_token_whose_answers_are_cached_is_decided_from_them_until_it_changes() {
        let (verifier, metrics, _dir) = verifier().await;
        let (record, plain) = stored_token(&verifier).await;
        let reads = || metrics.verify_store_reads.load(Ordering::Relaxed);
        let now = OffsetDateTime::now_utc();
        let verified = verifier.verify(plain.expose_secret(), None, now).await.unwrap();
        assert_eq!((verified.id, verified.digest, reads()), (record.id, record.digest, 1));
        let answers = verifier.answers(&verified).await.unwrap().expect("its answers");
        assert_eq!(answers.record, record);
        // Without its verdict cached, the token is decided from its answers
        // (no read), and carries them, so answering costs no second lookup.
        verifier.cache.clear();
        let from_answers = verifier.verify(plain.expose_secret(), None, now).await.unwrap();
        assert!(from_answers.answers.as_ref().is_some_and(|carried| Arc::ptr_eq(carried, &answers)));
        assert_eq!(VerifiedToken { answers: None, ..from_answers }, verified);
        assert!(Arc::ptr_eq(&verifier.answers(&verified).await.unwrap().unwrap(), &answers));
        assert_eq!(reads(), 1);
        // A change drops both, so the next use reads what the change made.
        assert!(verifier.store.revoke_token(record.id, now).await.unwrap());
        verifier.forget_token(&record);
        let refused = verifier.verify(plain.expose_secret(), None, now + time::Duration::SECOND).await;
        assert!(matches!(refused, Err(VerifyError::Rejected(RejectReason::Revoked))), "{refused:?}");
        assert_eq!(reads(), 2);
    }

    #[tokio::test]
    async fn a_use_kept_with_cached_answers_is_written_whether_they_stay_cached_or_are_dropped() {
        let (verifier, metrics, _dir) = verifier().await;
        let (record, plain) = stored_token(&verifier).await;
        let last_used = || async { verifier.store.find_token(record.id).await.unwrap().unwrap().last_used_at };
        let first = OffsetDateTime::now_utc().replace_millisecond(250).unwrap();
        let verified = verifier.verify(plain.expose_secret(), None, first).await.unwrap();
        verifier.answers(&verified).await.unwrap().expect("its answers");
        verifier.flush_last_used(verifier.store.as_ref(), &metrics).await;
        assert_eq!(last_used().await, Some(first), "a use before its answers were cached");
        // Decided from its cached answers: the use is kept there, and a flush
        // gathers it.
        let second = first + time::Duration::SECOND;
        let verified = verifier.verify(plain.expose_secret(), None, second).await.unwrap();
        assert!(verified.answers.is_some());
        drop(verified);
        verifier.flush_last_used(verifier.store.as_ref(), &metrics).await;
        assert_eq!(last_used().await, Some(second), "a use kept with cached answers");
        // Its entry dropped (here by a change) before the flush: handed over then.
        let third = second + time::Duration::SECOND;
        let verified = verifier.verify(plain.expose_secret(), None, third).await.unwrap();
        verifier.forget_token(&record);
        drop(verified);
        verifier.flush_last_used(verifier.store.as_ref(), &metrics).await;
        assert_eq!(last_used().await, Some(third), "a use kept by an entry dropped before the flush");
    }

    /// A current-thread runtime: the task spawned here runs only when the
    /// test's own task yields.
    #[tokio::test]
    async fn gathering_the_uses_kept_in_many_cached_answers_lets_other_tasks_run_meanwhile() {
        let (verifier, metrics, _dir) = verifier().await;
        let (record, _) = stored_token(&verifier).await;
        let now = OffsetDateTime::now_utc();
        let cached = 2 * HAND_OVERS_BETWEEN_YIELDS;
        for n in 0..cached {
            let digest = verifier.salt().unwrap().digest(&format!("token {n}"));
            let record = TokenRecord { id: TokenId::generate(), digest, ..record.clone() };
            let answers = Arc::new(TokenAnswers::new(record, &digest, verifier.last_used.clone()));
            answers.used.note(now);
            verifier.answers.insert_unless_changed(digest, answers, verifier.answers.generation());
        }
        let other_task_ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other_task = tokio::spawn({
            let ran = other_task_ran.clone();
            async move { ran.store(true, Ordering::Relaxed) }
        });
        verifier.hand_over_kept_uses().await;
        assert!(other_task_ran.load(Ordering::Relaxed), "the gathering held the worker until it was done");
        other_task.await.unwrap();
        // Every kept use was handed over, and goes out in the next batch.
        verifier.last_used.flush(verifier.store.as_ref(), &metrics).await;
        assert_eq!(metrics.last_used_rows_written.load(Ordering::Relaxed), cached as u64);
    }
}
