//! A bounded cache (quick_cache: S3-FIFO eviction) whose entries are dropped
//! when what they describe changes, and never brought back by a read that
//! started before the change.
//!
//! Every invalidation bumps a generation under a write lock; a read that
//! fetched a value from the database inserts it under the read lock only if
//! the generation is still the one it saw before fetching. So a lookup that
//! raced an invalidation cannot put a stale value back.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use quick_cache::sync::Cache;
use quick_cache::UnitWeighter;

pub struct CoherentCache<K, V, S> {
    entries: Cache<K, V, UnitWeighter, S>,
    invalidation: RwLock<()>,
    generation: AtomicU64,
}

impl<K, V, S> CoherentCache<K, V, S>
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// A cache of at most `capacity` entries; memory grows with use, not
    /// with the capacity.
    pub fn new(capacity: usize, hasher: S) -> Self {
        let capacity = capacity.max(1);
        let expected = capacity.min(1 << 16);
        Self {
            entries: Cache::with(expected, capacity as u64, UnitWeighter, hasher, Default::default()),
            invalidation: RwLock::new(()),
            generation: AtomicU64::new(0),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.entries.get(key)
    }

    /// The generation to pass to [`CoherentCache::insert_unless_changed`],
    /// read before fetching the value.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `value` unless something was invalidated since `generation`.
    pub fn insert_unless_changed(&self, key: K, value: V, generation: u64) {
        let _no_invalidation_meanwhile = self.invalidation.read();
        if self.generation.load(Ordering::Acquire) == generation {
            self.entries.insert(key, value);
        }
    }

    pub fn forget(&self, keys: &[K]) {
        let _exclusive = self.invalidation.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            self.entries.remove(key);
        }
    }

    pub fn clear(&self) {
        let _exclusive = self.invalidation.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    /// Every value cached (as of each shard's turn: values inserted meanwhile
    /// may or may not be seen).
    pub fn values(&self) -> impl Iterator<Item = V> + '_ {
        self.entries.iter().map(|(_, value)| value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::hash::RandomState;

    use super::*;

    #[test]
    fn a_read_that_raced_an_invalidation_does_not_repopulate_the_cache() {
        let cache: CoherentCache<u32, &str, RandomState> = CoherentCache::new(10, RandomState::new());
        let started_at = cache.generation();
        // The value changes while the database read is in flight…
        cache.forget(&[1]);
        // …so the (now stale) value it returns must not be cached.
        cache.insert_unless_changed(1, "stale", started_at);
        assert_eq!(cache.get(&1), None);
        cache.insert_unless_changed(1, "fresh", cache.generation());
        assert_eq!(cache.get(&1), Some("fresh"));
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_keeps_at_most_its_capacity() {
        let cache: CoherentCache<u32, u32, RandomState> = CoherentCache::new(100, RandomState::new());
        for n in 0..10_000 {
            cache.insert_unless_changed(n, n, cache.generation());
        }
        assert!(cache.len() <= 100, "{}", cache.len());
    }
}
