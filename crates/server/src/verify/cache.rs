//! The per-node cache of verdicts by digest: for each digest seen, either
//! "no token" or the compact [`CachedToken`] that decides a request and
//! builds its grant. About 210 bytes a token, the cache's bookkeeping
//! included (see `benches/verify.rs`), bounded by a capacity with S3-FIFO
//! eviction.
//!
//! Entries do not age. They stay exact because every change to a token
//! drops the digests it may be cached under: at once on the node that made
//! the change, and on every other node from the token change log (see
//! [`super::coherence`]). While a node cannot follow the log (past its
//! deadline), nothing cached is trusted.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatepass_core::id::{EnvironmentId, OrgId, ProjectId, TokenId, RANDOM_LEN};
use gatepass_core::policy::AllowedIps;
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scopes;
use gatepass_core::token::{TokenDigest, TokenStatus};
use gatepass_store::{from_millis, to_millis, TokenRecord};
use time::OffsetDateTime;

use super::answers::TokenAnswers;
use super::coherent::CoherentCache;
use super::RejectReason;

/// Tokens (and unknown digests) kept at most, by default: about 420 MB when full.
pub const DEFAULT_CAPACITY: usize = 2_000_000;

/// Stored for an instant that never comes (no expiry, not revoked, no end
/// to the secret).
const NEVER: i64 = i64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Org,
    Project,
    Environment,
}

/// What verification keeps of a token, under one of its digests: ids as
/// their random parts and instants as milliseconds, so it is small, and the
/// allow list shared with every other entry of the token (cloning it is a
/// reference count, and a token without a list has none to count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    token: [u8; RANDOM_LEN],
    org: [u8; RANDOM_LEN],
    project: [u8; RANDOM_LEN],
    environment: [u8; RANDOM_LEN],
    level: Level,
    scopes: Scopes,
    expires_at: i64,
    revoked_at: i64,
    /// Until when this digest opens the token: never ending for its current
    /// secret, the grace period's end for the one a rotation replaced.
    secret_valid_until: i64,
    allowed_ips: AllowedIps,
}

/// A token verified for a request: what its grant and its answers need.
/// Built only once its allow list admitted the request's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub id: TokenId,
    /// The digest it was found under: the key of its answers.
    pub digest: TokenDigest,
    pub org_id: OrgId,
    pub reach: Reach,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
    /// When this request verified it: the time of this use.
    pub verified_at: OffsetDateTime,
    /// Its record and answers, when it was decided from them: a request
    /// that answers with them does not look them up again.
    pub answers: Option<Arc<TokenAnswers>>,
}

fn millis(at: Option<OffsetDateTime>) -> i64 {
    at.map_or(NEVER, to_millis)
}

fn instant(millis: i64) -> Option<OffsetDateTime> {
    (millis != NEVER).then(|| from_millis(millis))
}

impl CachedToken {
    /// What `record` says of the secret whose digest is `digest`.
    pub fn of(record: &TokenRecord, digest: &TokenDigest) -> Self {
        let secret_valid_until = if record.digest == *digest {
            NEVER
        } else if record.previous_digest.as_ref() == Some(digest) {
            millis(record.previous_valid_until).min(NEVER - 1)
        } else {
            i64::MIN
        };
        let none = [0u8; RANDOM_LEN];
        let (level, project, environment) = match record.reach {
            Reach::Org => (Level::Org, none, none),
            Reach::Project(project) => (Level::Project, project.random_part(), none),
            Reach::Environment(project, environment) => {
                (Level::Environment, project.random_part(), environment.random_part())
            }
        };
        CachedToken {
            token: record.id.random_part(),
            org: record.org_id.random_part(),
            project,
            environment,
            level,
            scopes: record.scopes,
            expires_at: millis(record.expires_at),
            revoked_at: millis(record.revoked_at),
            secret_valid_until,
            allowed_ips: record.allowed_ips.clone(),
        }
    }

    /// Whether this digest is the token's current secret (not the one a
    /// rotation replaced): only that one is re-made under a new salt.
    pub fn is_current_secret(&self) -> bool {
        self.secret_valid_until == NEVER
    }

    /// Whether a request from `client_ip` may use the token; `None` (a
    /// token presented for introspection, not used) always may.
    #[inline]
    pub fn admits(&self, client_ip: Option<std::net::IpAddr>) -> bool {
        client_ip.is_none_or(|ip| self.allowed_ips.allows(ip))
    }

    /// Whether this secret (whose digest is `digest`) opens the token at
    /// `now`, by the core's rules.
    pub fn decide(&self, digest: &TokenDigest, now: OffsetDateTime) -> Result<VerifiedToken, RejectReason> {
        let expires_at = instant(self.expires_at);
        match TokenStatus::at(instant(self.revoked_at), expires_at, now) {
            TokenStatus::Revoked => return Err(RejectReason::Revoked),
            TokenStatus::Expired => return Err(RejectReason::Expired),
            TokenStatus::Active => {}
        }
        if self.secret_valid_until != NEVER && to_millis(now) >= self.secret_valid_until {
            return Err(RejectReason::Superseded);
        }
        let reach = match self.level {
            Level::Org => Reach::Org,
            Level::Project => Reach::Project(ProjectId::from_random_part(self.project)),
            Level::Environment => Reach::Environment(
                ProjectId::from_random_part(self.project),
                EnvironmentId::from_random_part(self.environment),
            ),
        };
        Ok(VerifiedToken {
            id: TokenId::from_random_part(self.token),
            digest: *digest,
            org_id: OrgId::from_random_part(self.org),
            reach,
            scopes: self.scopes,
            expires_at,
            verified_at: now,
            answers: None,
        })
    }
}

/// Digests are HMAC-SHA256 outputs under the server's secret salt: uniformly
/// spread and impossible for a client to choose, so folding their words
/// together is already a good hash and SipHash would be wasted work on every
/// verify.
#[derive(Default, Clone)]
pub struct DigestHasher(u64);

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

/// Whether what is cached may be trusted now: always on a single node
/// (which invalidates exactly in-process), and on a shared database only
/// while the node has followed the change log recently enough.
pub struct Trust {
    since: Instant,
    /// Milliseconds after `since` until which the cache is trusted;
    /// `u64::MAX` for always.
    until_ms: AtomicU64,
}

impl Trust {
    pub fn always() -> Self {
        Self { since: Instant::now(), until_ms: AtomicU64::new(u64::MAX) }
    }

    /// Not yet trusted: a node following a shared change log starts here.
    pub fn until_synced() -> Self {
        Self { since: Instant::now(), until_ms: AtomicU64::new(0) }
    }

    pub fn is_trusted(&self) -> bool {
        let until = self.until_ms.load(Ordering::Acquire);
        until == u64::MAX || (self.since.elapsed().as_millis() as u64) < until
    }

    /// Trusts the cache for `deadline` from now; answers whether it was
    /// trusted until this renewal (false: the deadline had been missed).
    pub fn renew(&self, deadline: Duration) -> bool {
        let now = self.since.elapsed().as_millis() as u64;
        let previous = self.until_ms.swap(now + deadline.as_millis() as u64, Ordering::AcqRel);
        now < previous
    }
}

/// What the cache says of a digest.
pub enum Lookup {
    /// A token, or `None`: no token has this digest.
    Hit(Option<CachedToken>),
    Miss,
}

/// Concurrent misses on one digest wait for a single database read; misses
/// on different digests rarely share a stripe.
const LOOKUP_STRIPES: usize = 64;

/// The per-node cache of verdicts by digest.
pub struct VerifyCache {
    entries: CoherentCache<TokenDigest, Option<CachedToken>, BuildHasherDefault<DigestHasher>>,
    pub(super) trust: Trust,
    lookups_in_flight: [tokio::sync::Mutex<()>; LOOKUP_STRIPES],
}

impl VerifyCache {
    pub fn new(capacity: usize, trust: Trust) -> Self {
        Self {
            entries: CoherentCache::new(capacity, BuildHasherDefault::default()),
            trust,
            lookups_in_flight: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }

    pub fn get(&self, digest: &TokenDigest) -> Lookup {
        if !self.trust.is_trusted() {
            return Lookup::Miss;
        }
        match self.entries.get(digest) {
            Some(cached) => Lookup::Hit(cached),
            None => Lookup::Miss,
        }
    }

    pub(super) fn generation(&self) -> u64 {
        self.entries.generation()
    }

    /// Caches what a read found, unless the cache is not trusted now or
    /// something changed since the read began.
    pub(super) fn insert(&self, digest: TokenDigest, cached: Option<CachedToken>, generation: u64) {
        if self.trust.is_trusted() {
            self.entries.insert_unless_changed(digest, cached, generation);
        }
    }

    /// Drops what is cached under these digests.
    pub fn forget(&self, digests: &[TokenDigest]) {
        self.entries.forget(digests);
    }

    pub fn clear(&self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn stripe(&self, digest: &TokenDigest) -> &tokio::sync::Mutex<()> {
        &self.lookups_in_flight[usize::from(digest.as_bytes()[0]) % LOOKUP_STRIPES]
    }
}

#[cfg(test)]
mod tests {
    use gatepass_core::scope::Scope;
    use gatepass_store::Actor;
    use time::macros::datetime;

    use super::*;

    fn record(digest: TokenDigest) -> TokenRecord {
        TokenRecord {
            id: TokenId::generate(),
            org_id: OrgId::generate(),
            name: "t".into(),
            reach: Reach::Environment(ProjectId::generate(), EnvironmentId::generate()),
            scopes: Scopes::only(Scope::Deploy),
            preview: "gpd_x…y".into(),
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
            allowed_ips: AllowedIps::anywhere(),
            parent_id: None,
            salt_fingerprint: String::new(),
            source: gatepass_core::token::TokenSource::User,
        }
    }

    #[test]
    fn a_cached_token_builds_the_same_grant_as_its_record() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let digest = TokenDigest::from_bytes([1; 32]);
        let mut record = record(digest);
        record.expires_at = Some(now + time::Duration::DAY);
        let verified = CachedToken::of(&record, &digest).decide(&digest, now).unwrap();
        assert!(CachedToken::of(&record, &digest).admits(Some("192.0.2.1".parse().unwrap())));
        assert_eq!(
            verified,
            VerifiedToken {
                id: record.id,
                digest,
                org_id: record.org_id,
                reach: record.reach,
                scopes: record.scopes,
                expires_at: record.expires_at,
                verified_at: now,
                answers: None,
            }
        );
    }

    #[test]
    fn cached_tokens_follow_the_cores_status_and_grace_rules() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let (current, previous) = (TokenDigest::from_bytes([1; 32]), TokenDigest::from_bytes([2; 32]));
        let mut rotated = record(current);
        rotated.previous_digest = Some(previous);
        rotated.previous_valid_until = Some(now + time::Duration::HOUR);
        assert!(CachedToken::of(&rotated, &current).decide(&current, now + time::Duration::DAY).is_ok());
        assert!(CachedToken::of(&rotated, &previous).decide(&previous, now).is_ok());
        assert_eq!(
            CachedToken::of(&rotated, &previous).decide(&previous, now + time::Duration::HOUR),
            Err(RejectReason::Superseded)
        );
        let mut revoked = record(current);
        revoked.revoked_at = Some(now);
        revoked.expires_at = Some(now - time::Duration::DAY);
        assert_eq!(CachedToken::of(&revoked, &current).decide(&current, now), Err(RejectReason::Revoked));
        let mut expired = record(current);
        expired.expires_at = Some(now);
        assert_eq!(CachedToken::of(&expired, &current).decide(&current, now), Err(RejectReason::Expired));
    }

    #[test]
    fn a_cached_token_admits_only_addresses_on_its_allow_list() {
        let digest = TokenDigest::from_bytes([1; 32]);
        let mut listed = record(digest);
        listed.allowed_ips = AllowedIps::parse_each(["127.0.0.1", "2001:db8::/32"]).unwrap();
        let cached = CachedToken::of(&listed, &digest);
        assert!(cached.admits(Some("127.0.0.1".parse().unwrap())));
        assert!(cached.admits(Some("2001:db8::7".parse().unwrap())));
        assert!(!cached.admits(Some("127.0.0.2".parse().unwrap())));
        assert!(cached.admits(None), "introspection does not use the token");
    }

    #[test]
    fn a_cached_token_is_small() {
        // The allow list is one pointer and a length (a shared slice).
        assert!(std::mem::size_of::<Option<CachedToken>>() <= 128, "{}", std::mem::size_of::<Option<CachedToken>>());
    }

    #[test]
    fn nothing_is_trusted_past_the_deadline_until_the_log_is_followed_again() {
        let cache = VerifyCache::new(10, Trust::until_synced());
        let digest = TokenDigest::from_bytes([1; 32]);
        cache.insert(digest, None, cache.generation());
        assert!(matches!(cache.get(&digest), Lookup::Miss), "not trusted before the first sync");
        assert!(!cache.trust.renew(Duration::from_secs(60)), "the first renewal finds it untrusted");
        cache.insert(digest, None, cache.generation());
        assert!(matches!(cache.get(&digest), Lookup::Hit(None)));
        assert!(cache.trust.renew(Duration::ZERO));
        assert!(matches!(cache.get(&digest), Lookup::Miss), "a missed deadline");
    }

    #[test]
    fn digest_hashing_spreads_digests_that_share_a_prefix() {
        use std::hash::BuildHasher;
        let hasher = BuildHasherDefault::<DigestHasher>::default();
        let mut a = [7u8; 32];
        let mut b = a;
        a[31] = 1;
        b[31] = 2;
        let (a, b) = (TokenDigest::from_bytes(a), TokenDigest::from_bytes(b));
        assert_ne!(hasher.hash_one(a), hasher.hash_one(b));
    }
}
