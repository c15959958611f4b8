//! A read-mostly map from a label combination to its registered metric handles, so that the
//! request path finds its counters with one lock-free lookup and builds label strings only the
//! first time a combination is seen.
//!
//! Keys are hashed with foldhash, seeded at random per process, not SipHash: a lookup per
//! request hashes a whole label set. Some keys come from peers (a workload's metadata header),
//! but the map is bounded ([`MAX_ENTRIES`]) and its seed unknown to them.

use std::{borrow::Borrow, collections::HashMap, hash::Hash, sync::Arc};

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;

type Map<K, V> = HashMap<K, Arc<V>, RandomState>;

/// Past this many combinations new ones are not cached: a label set that explodes (say, a
/// peer that sends a new workload name per request) costs a registration per request rather
/// than unbounded memory here. The recorder still holds every series it was given.
pub const MAX_ENTRIES: usize = 10_000;

/// Handles by key; lookups never lock, inserts copy the map.
#[derive(Debug)]
pub struct Cache<K, V> {
    entries: ArcSwap<Map<K, V>>,
    limit: usize,
}

// === impl Cache ===

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self::with_limit(MAX_ENTRIES)
    }
}

impl<K, V> Cache<K, V> {
    /// A cache of at most `limit` keys.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            entries: ArcSwap::from_pointee(Map::default()),
            limit,
        }
    }
}

impl<K: Clone + Eq + Hash, V> Cache<K, V> {
    /// The value for `key`, made by `make` the first time.
    pub fn get_or_insert<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> Arc<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(found) = self.entries.load().get(key) {
            return Arc::clone(found);
        }
        let made = Arc::new(make());
        if self.entries.load().len() >= self.limit {
            return made;
        }
        let owned: K = <Q as ToOwned>::to_owned(key);
        self.entries.rcu(|current| {
            if current.contains_key(key) {
                return Arc::clone(current);
            }
            let mut next = Map::clone(current);
            next.insert(owned.clone(), Arc::clone(&made));
            Arc::new(next)
        });
        // Another thread may have inserted first; its value is the one everyone shares.
        self.entries.load().get(key).map_or(made, Arc::clone)
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.entries.load().len()
    }

    /// The value cached for `key`, if any.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.load().get(key).map(Arc::clone)
    }

    /// Every cached key and value, in no particular order.
    pub fn entries(&self) -> Vec<(K, Arc<V>)> {
        self.entries
            .load()
            .iter()
            .map(|(key, value)| (key.clone(), Arc::clone(value)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn values_are_made_once_per_key() {
        let cache: Cache<String, usize> = Cache::default();
        let made = AtomicUsize::new(0);
        let make = || made.fetch_add(1, Ordering::Relaxed);
        let first = cache.get_or_insert("a", make);
        let again = cache.get_or_insert("a", make);
        let other = cache.get_or_insert("b", make);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((*first, *other, cache.len()), (0, 1, 2));
        assert_eq!(made.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_full_cache_still_answers() {
        let cache: Cache<usize, usize> = Cache::with_limit(8);
        for key in 0..13 {
            assert_eq!(*cache.get_or_insert(&key, || key * 2), key * 2);
        }
        assert_eq!(cache.len(), 8);
        assert_eq!(*cache.get_or_insert(&12, || 0), 0);
    }
}
