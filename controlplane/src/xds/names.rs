//! Resource names, interned: one allocation per distinct name in the process, shared by the
//! encodings that carry it and by every stream that subscribes to it. A state-of-the-world
//! sidecar names every load assignment it wants in each request; a thousand of them naming the
//! same five thousand clusters hold pointers, not five million strings.
//!
//! Sets of names are interned too ([`intern_set`]): the sidecars of a group subscribe to the
//! same names, and hold one set between them, which lists also know them by (see
//! [`ResourceList::select`](super::list::ResourceList::select)).

use std::{
    borrow::Borrow,
    collections::{BTreeSet, HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, OnceLock, PoisonError, RwLock, Weak},
};

use super::{generator::Subscription, list::ResourceList};

/// The names in use, and how many there were after the last sweep.
#[derive(Debug, Default)]
struct Interner {
    names: HashSet<Arc<str>>,
    swept_at: usize,
}

/// Names never swept below this many: small sets are not worth a sweep.
const SWEEP_FLOOR: usize = 4096;

fn interner() -> &'static RwLock<Interner> {
    static INTERNER: OnceLock<RwLock<Interner>> = OnceLock::new();
    INTERNER.get_or_init(RwLock::default)
}

/// The shared copy of `name`.
pub fn intern(name: &str) -> Arc<str> {
    // Every entry is a whole `Arc`: one left by a panicking thread is still valid.
    if let Some(found) = interner()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .names
        .get(name)
    {
        return Arc::clone(found);
    }
    interner()
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .intern(name)
}

// === impl Interner ===

impl Interner {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(found) = self.names.get(name) {
            return Arc::clone(found);
        }
        // Names nothing else holds any more go once the set has doubled since the last
        // sweep, which keeps the cost of sweeping to a constant per name interned.
        if self.names.len() >= SWEEP_FLOOR.max(2 * self.swept_at) {
            self.names.retain(|held| Arc::strong_count(held) > 1);
            self.swept_at = self.names.len();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(Arc::clone(&shared));
        shared
    }
}

/// A set of interned names, itself interned: equal sets are one allocation.
pub type NameSet = Arc<BTreeSet<Arc<str>>>;

/// The sets in use, by a hash of their names, and how many there were after the last sweep.
#[derive(Debug, Default)]
struct Sets {
    by_hash: HashMap<u64, Vec<Weak<BTreeSet<Arc<str>>>>>,
    swept_at: usize,
}

fn sets() -> &'static RwLock<Sets> {
    static SETS: OnceLock<RwLock<Sets>> = OnceLock::new();
    SETS.get_or_init(RwLock::default)
}

/// The shared copy of `names` (whose names must come from [`intern`]).
pub fn intern_set(names: BTreeSet<Arc<str>>) -> NameSet {
    // Names are interned, so a set is known by its pointers: hashed and compared without
    // reading a string.
    let mut hasher = DefaultHasher::new();
    for name in &names {
        Arc::as_ptr(name).cast::<u8>().hash(&mut hasher);
    }
    let hash = hasher.finish();
    // Every entry is a whole `Weak`: one left by a panicking thread is still valid.
    let found = sets()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .find(hash, &names);
    match found {
        Some(found) => found,
        None => sets()
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .intern(hash, names),
    }
}

// === impl Sets ===

impl Sets {
    fn find(&self, hash: u64, names: &BTreeSet<Arc<str>>) -> Option<NameSet> {
        let same = |set: &NameSet| {
            set.len() == names.len() && set.iter().zip(names).all(|(a, b)| Arc::ptr_eq(a, b))
        };
        (self.by_hash.get(&hash)?.iter())
            .filter_map(Weak::upgrade)
            .find(same)
    }

    fn intern(&mut self, hash: u64, names: BTreeSet<Arc<str>>) -> NameSet {
        if let Some(found) = self.find(hash, &names) {
            return found;
        }
        // Sets nothing holds any more go once the map has doubled since the last sweep.
        if self.by_hash.len() >= SETS_SWEEP_FLOOR.max(2 * self.swept_at) {
            self.by_hash.retain(|_, sets| {
                sets.retain(|set| set.strong_count() > 0);
                !sets.is_empty()
            });
            self.swept_at = self.by_hash.len();
        }
        let shared = Arc::new(names);
        let entry = self.by_hash.entry(hash).or_default();
        entry.retain(|set| set.strong_count() > 0);
        entry.push(Arc::downgrade(&shared));
        shared
    }
}

/// Sets never swept below this many hashes.
const SETS_SWEEP_FLOOR: usize = 1024;

/// What a stream subscribed to for one type, its names interned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    /// Every resource of the type.
    pub wildcard: bool,
    /// These names (besides every resource, when `wildcard`): shared with every stream that
    /// subscribed to the same.
    pub names: NameSet,
}

// === impl Interest ===

impl Interest {
    /// Whether `name` is subscribed.
    pub fn contains(&self, name: &str) -> bool {
        self.wildcard || self.names.contains(name)
    }

    /// The same as the [`Subscription`] generators take.
    pub fn to_subscription(&self) -> Subscription {
        match self.wildcard {
            true => Subscription::Wildcard,
            false => Subscription::Names(self.names.iter().map(|n| n.to_string()).collect()),
        }
    }

    /// The names of `names`, interned, as an interned set.
    pub fn names<S: Borrow<str>>(names: impl IntoIterator<Item = S>) -> NameSet {
        intern_set(names.into_iter().map(|n| intern(n.borrow())).collect())
    }

    /// The part of `list` it names: `list` itself for a wildcard.
    pub fn select(&self, list: &ResourceList) -> ResourceList {
        match self.wildcard {
            true => list.clone(),
            false => list.select(&self.names),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_are_one_allocation() {
        let a = intern("outbound|9080||reviews.default.svc.cluster.local");
        let b = intern(&String::from(
            "outbound|9080||reviews.default.svc.cluster.local",
        ));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &intern("outbound|9080||ratings")));
        let set = Interest::names(["outbound|9080||reviews.default.svc.cluster.local"]);
        assert!(set.iter().all(|n| Arc::ptr_eq(n, &a)));
    }

    #[test]
    fn equal_sets_are_one_allocation_until_none_holds_them() {
        let one = Interest::names(["set-a", "set-b"]);
        let two = Interest::names(vec![String::from("set-b"), String::from("set-a")]);
        assert!(Arc::ptr_eq(&one, &two));
        assert_eq!(Arc::strong_count(&one), 2, "the interner holds sets weakly");
        let other = Interest::names(["set-a"]);
        assert!(!Arc::ptr_eq(&one, &other));
        assert_eq!(*other, BTreeSet::from([intern("set-a")]));
        let weak = Arc::downgrade(&one);
        drop((one, two));
        assert!(weak.upgrade().is_none());
        let again = Interest::names(["set-a", "set-b"]);
        assert_eq!(again.len(), 2);
        assert!(!std::ptr::eq(Arc::as_ptr(&again), weak.as_ptr()));
    }

    #[test]
    fn names_nothing_holds_are_swept_once_the_set_doubles() {
        let mut interner = Interner::default();
        let held: Vec<Arc<str>> = (0..SWEEP_FLOOR)
            .map(|i| interner.intern(&format!("held-{i}")))
            .collect();
        for i in 0..2 * SWEEP_FLOOR {
            drop(interner.intern(&format!("dropped-{i}")));
        }
        let count = |interner: &Interner, prefix: &str| {
            (interner.names.iter())
                .filter(|n| n.starts_with(prefix))
                .count()
        };
        // Swept when the first dropped name came (nothing to sweep) and when the set reached
        // twice that: the first half of the dropped names went, the held ones stayed.
        assert_eq!(interner.swept_at, SWEEP_FLOOR);
        assert_eq!(count(&interner, "held-"), SWEEP_FLOOR);
        assert_eq!(count(&interner, "dropped-"), SWEEP_FLOOR);
        assert!(Arc::ptr_eq(&held[7], &interner.intern("held-7")));
    }
}
