//! Last-used times, coalesced in memory and written in batches, so that a
//! verification never writes to the database.
//!
//! A token used many times a second is noted once a second: a table of
//! atomics remembers, per slot, which token was last noted in which second,
//! so the hot path is one atomic load. Pending times are kept in shards, so
//! traffic spread over many tokens does not queue on one lock.
//!
//! A token whose answers are cached keeps its use there instead
//! ([`KeptUse`]), in the cache line its request has just read, and hands it
//! over to the pending times when they are flushed or when its entry is
//! dropped: with traffic spread over many tokens, each new second of each
//! token would otherwise be a write to a shared map.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use gatepass_core::id::TokenId;
use gatepass_store::{from_millis, to_millis, Store};
use parking_lot::Mutex;
use quick_cache::DefaultHashBuilder;
use time::OffsetDateTime;

use crate::metrics::Metrics;

const SHARDS: usize = 16;
/// Slots of the once-a-second filter (8 bytes each, 512 KiB in all).
const NOTED_SLOTS: usize = 1 << 16;

/// Pending last-used times by token. Token ids are made by the server, so a
/// fast seeded hash (foldhash, quick_cache's own) serves.
type Pending = HashMap<TokenId, OffsetDateTime, DefaultHashBuilder>;

pub struct LastUsed {
    pending: [Mutex<Pending>; SHARDS],
    /// Per slot: the second (high 32 bits) in which the token with this
    /// fingerprint (low 32 bits) was last noted.
    noted: Box<[AtomicU64]>,
    hasher: DefaultHashBuilder,
}

impl Default for LastUsed {
    fn default() -> Self {
        Self {
            pending: std::array::from_fn(|_| Mutex::new(Pending::default())),
            noted: (0..NOTED_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: DefaultHashBuilder::default(),
        }
    }
}

/// A token's use, kept with its cached answers: the second (Unix time) it
/// was last noted in, and its latest use not yet handed over to the pending
/// times (see [`LastUsed::hand_over`]).
#[derive(Debug)]
pub struct KeptUse {
    noted_second: AtomicU64,
    /// Unix milliseconds (the database's precision), or [`NOTHING_KEPT`].
    unsaved_millis: AtomicI64,
}

const NOTHING_KEPT: i64 = i64::MIN;

impl Default for KeptUse {
    fn default() -> Self {
        Self { noted_second: AtomicU64::new(0), unsaved_millis: AtomicI64::new(NOTHING_KEPT) }
    }
}

impl KeptUse {
    /// Keeps a use at `at`, unless one in the same second is kept already
    /// (then this costs one atomic load).
    pub fn note(&self, at: OffsetDateTime) {
        if !noted_already(&self.noted_second, at.unix_timestamp() as u64) {
            self.unsaved_millis.fetch_max(to_millis(at), Ordering::Relaxed);
        }
    }

    /// The latest use kept and not yet handed over, which is handed over
    /// now. (Both are read-modify-writes of one atomic, so a use noted at
    /// the same moment is either taken here or kept for the next time.)
    fn take(&self) -> Option<OffsetDateTime> {
        let millis = self.unsaved_millis.swap(NOTHING_KEPT, Ordering::Relaxed);
        (millis != NOTHING_KEPT).then(|| from_millis(millis))
    }
}

/// Whether `slot` already holds `noted` (a use in this second); if not, it
/// does now. Read before writing: a slot is shared by every core serving
/// the token, and a write on each use would bounce it between them.
fn noted_already(slot: &AtomicU64, noted: u64) -> bool {
    slot.load(Ordering::Relaxed) == noted || slot.swap(noted, Ordering::Relaxed) == noted
}

impl std::fmt::Debug for LastUsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastUsed").finish_non_exhaustive()
    }
}

impl LastUsed {
    /// Notes a use of `id` at `at`, unless it was noted in the same second
    /// already (then this costs one atomic load).
    pub fn touch_once_a_second(&self, id: TokenId, at: OffsetDateTime) {
        let hash = self.hasher.hash_one(id);
        let slot = &self.noted[hash as usize % NOTED_SLOTS];
        if noted_already(slot, (at.unix_timestamp() as u64) << 32 | (hash >> 32)) {
            return;
        }
        self.note(hash, id, at);
    }

    /// Makes the use `kept` for token `id` pending, if it holds one that
    /// was not handed over yet: before a flush, and when it is dropped.
    pub fn hand_over(&self, id: TokenId, kept: &KeptUse) {
        if let Some(at) = kept.take() {
            self.touch(id, at);
        }
    }

    pub fn touch(&self, id: TokenId, at: OffsetDateTime) {
        self.note(self.hasher.hash_one(id), id, at);
    }

    /// Keeps the later of `at` and what is pending for `id` (whose hash is `hash`).
    fn note(&self, hash: u64, id: TokenId, at: OffsetDateTime) {
        let mut pending = self.pending[hash as usize % SHARDS].lock();
        let slot = pending.entry(id).or_insert(at);
        if *slot < at {
            *slot = at;
        }
    }

    /// Writes everything pending in one batch. On failure the times are put
    /// back, so a database hiccup loses nothing. Called by the verifier's
    /// `flush_last_used`, which first gathers the uses kept in cached
    /// answers.
    pub(crate) async fn flush(&self, store: &dyn Store, metrics: &Metrics) {
        let batch: Vec<(TokenId, OffsetDateTime)> =
            self.pending.iter().flat_map(|shard| shard.lock().drain().collect::<Vec<_>>()).collect();
        if batch.is_empty() {
            return;
        }
        match store.record_last_used(&batch).await {
            Ok(()) => {
                metrics.last_used_flushes.fetch_add(1, Ordering::Relaxed);
                metrics.last_used_rows_written.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(error = %err, tokens = batch.len(), "could not save last-used times; will retry");
                for (id, at) in batch {
                    self.touch(id, at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn pending(last_used: &LastUsed) -> Vec<(TokenId, OffsetDateTime)> {
        last_used
            .pending
            .iter()
            .flat_map(|shard| shard.lock().iter().map(|(id, at)| (*id, *at)).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn a_use_is_noted_once_a_second_whichever_record_of_the_second_is_kept() {
        let last_used = LastUsed::default();
        let (by_table, by_entry) = (TokenId::generate(), TokenId::generate());
        let kept = KeptUse::default();
        let first = datetime!(2026-12-02 12:00:00.100 UTC);
        for at in [first, first + time::Duration::milliseconds(500)] {
            last_used.touch_once_a_second(by_table, at);
            kept.note(at);
        }
        assert_eq!(pending(&last_used), [(by_table, first)], "a use kept with its entry is not pending yet");
        last_used.hand_over(by_entry, &kept);
        let mut noted_times = pending(&last_used);
        noted_times.sort_by_key(|(id, _)| *id == by_entry);
        assert_eq!(noted_times, [(by_table, first), (by_entry, first)], "later uses in the same second are skipped");
        let next = first + time::Duration::SECOND;
        last_used.touch_once_a_second(by_table, next);
        kept.note(next);
        last_used.hand_over(by_entry, &kept);
        let mut noted_times = pending(&last_used);
        noted_times.sort_by_key(|(id, _)| *id == by_entry);
        assert_eq!(noted_times, [(by_table, next), (by_entry, next)], "the next second's first use is noted");
    }

    #[test]
    fn a_kept_use_is_handed_over_once() {
        let last_used = LastUsed::default();
        let id = TokenId::generate();
        let kept = KeptUse::default();
        last_used.hand_over(id, &kept);
        assert_eq!(pending(&last_used), [], "nothing kept, nothing handed over");
        let at = datetime!(2026-12-02 12:00:00.250 UTC);
        kept.note(at);
        last_used.hand_over(id, &kept);
        assert_eq!(pending(&last_used), [(id, at)]);
        last_used.pending.iter().for_each(|shard| shard.lock().clear());
        last_used.hand_over(id, &kept);
        assert_eq!(pending(&last_used), [], "a use is handed over once");
    }
}
