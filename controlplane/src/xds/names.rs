//! Resource names, interned: one allocation per distinct name in the process, shared by the
//! encodings that carry it and by every stream that subscribes to it. A state-of-the-world
//! sidecar names every load assignment it wants in each request; a thousand of them naming the
//! same five thousand clusters hold pointers, not five million strings.

use std::{
    borrow::Borrow,
    collections::{BTreeSet, HashSet},
    sync::{Arc, OnceLock, PoisonError, RwLock},
};

use super::generator::Subscription;

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

/// What a stream subscribed to for one type, its names interned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    /// Every resource of the type.
    pub wildcard: bool,
    /// These names (besides every resource, when `wildcard`).
    pub names: BTreeSet<Arc<str>>,
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

    /// The names of `names`, interned.
    pub fn names<S: Borrow<str>>(names: impl IntoIterator<Item = S>) -> BTreeSet<Arc<str>> {
        names.into_iter().map(|n| intern(n.borrow())).collect()
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
