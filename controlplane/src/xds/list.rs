//! The resources of one type a generator hands to streams, as one shared list.
//!
//! Every sidecar of a group is served from the same list: what a stream cuts from it is worked
//! out once per list, not once per stream. The list's response version is hashed once; the
//! part of it a subscription names is kept per (interned) name set, and is the list itself when
//! the set names all of it; what changed since an older list is kept per older list. A stream
//! then remembers what it sent as one handle to a list.

use std::{
    collections::BTreeSet,
    ops::Deref,
    sync::{Arc, OnceLock, PoisonError, RwLock, Weak},
};

use super::{encoded::Encoded, hash, names::NameSet};

/// How many selections, and how many diffs, a list remembers: a group's streams share a few;
/// past that, each is worked out for its stream alone.
const REMEMBERED: usize = 16;

/// Encoded resources of one type, in name order; cloning it clones a handle.
#[derive(Clone, Debug)]
pub struct ResourceList(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    resources: Box<[Arc<Encoded>]>,
    version: OnceLock<String>,
    /// The part of the list each name set names, by the set (held weakly: a set no stream
    /// holds any more is forgotten).
    selections: Remembered<BTreeSet<Arc<str>>, Selection>,
    /// What changed since each older list streams were sent.
    diffs: Remembered<Inner, Arc<Diff>>,
}

/// Values worked out for a key held elsewhere, by the key (weakly, and by address).
type Remembered<K, V> = RwLock<Vec<(Weak<K>, V)>>;

#[derive(Clone, Debug)]
enum Selection {
    /// The set names every resource: the list itself (not a handle to it, which would keep
    /// the list alive through its own cache).
    Whole,
    Part(ResourceList),
}

/// What changed from one list to another.
#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    /// The resources the older list did not have at their version, in name order.
    pub changed: Vec<Arc<Encoded>>,
    /// The names the older list had and this one does not, in order.
    pub removed: Vec<Arc<str>>,
}

// === impl ResourceList ===

impl ResourceList {
    /// The list of `resources`, put in name order if they are not.
    pub fn new(mut resources: Vec<Arc<Encoded>>) -> Self {
        if !resources.is_sorted_by(|a, b| a.name() <= b.name()) {
            resources.sort_by(|a, b| a.name().cmp(b.name()));
        }
        Self(Arc::new(Inner {
            resources: resources.into_boxed_slice(),
            ..Inner::default()
        }))
    }

    /// The version of a response carrying the whole list: its names and versions hashed, once.
    pub fn version(&self) -> &str {
        self.0
            .version
            .get_or_init(|| hash::response_version(self.iter().map(|r| (r.name(), r.version()))))
    }

    /// Whether `a` and `b` are the very same list.
    pub fn ptr_eq(a: &ResourceList, b: &ResourceList) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// The resource named `name`.
    pub fn find(&self, name: &str) -> Option<&Arc<Encoded>> {
        let at = self.binary_search_by(|r| r.name().cmp(name)).ok()?;
        self.0.resources.get(at)
    }

    /// The resources `names` names: this list when they are all of it. Worked out once per
    /// name set (sets are interned, so the streams of a group share theirs).
    pub fn select(&self, names: &NameSet) -> ResourceList {
        let cached = {
            let selections = self
                .0
                .selections
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            (selections.iter())
                .find(|(set, _)| std::ptr::eq(set.as_ptr(), Arc::as_ptr(names)))
                .map(|(_, selection)| selection.clone())
        };
        let selection = cached.unwrap_or_else(|| {
            let kept: Vec<Arc<Encoded>> = (self.iter())
                .filter(|r| names.contains(r.name()))
                .cloned()
                .collect();
            let selection = match kept.len() == self.len() {
                true => Selection::Whole,
                false => Selection::Part(ResourceList::new(kept)),
            };
            let mut selections = self
                .0
                .selections
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            remember(&mut selections, Arc::downgrade(names), selection.clone());
            selection
        });
        match selection {
            Selection::Whole => self.clone(),
            Selection::Part(part) => part,
        }
    }

    /// What changed since `older`: worked out once per older list, for every stream that was
    /// sent it.
    pub fn changes_since(&self, older: &ResourceList) -> Arc<Diff> {
        if ResourceList::ptr_eq(self, older) {
            return Arc::default();
        }
        let cached = {
            let diffs = self.0.diffs.read().unwrap_or_else(PoisonError::into_inner);
            (diffs.iter())
                .find(|(list, _)| std::ptr::eq(list.as_ptr(), Arc::as_ptr(&older.0)))
                .map(|(_, diff)| Arc::clone(diff))
        };
        cached.unwrap_or_else(|| {
            let diff = Arc::new(self.diff(older));
            let mut diffs = self.0.diffs.write().unwrap_or_else(PoisonError::into_inner);
            remember(&mut diffs, Arc::downgrade(&older.0), Arc::clone(&diff));
            diff
        })
    }

    fn diff(&self, older: &ResourceList) -> Diff {
        let changed = (self.iter())
            .filter(|r| {
                older
                    .find(r.name())
                    .is_none_or(|had| !Arc::ptr_eq(had, r) && had.version() != r.version())
            })
            .cloned()
            .collect();
        let mut removed: Vec<Arc<str>> = (older.iter())
            .filter(|r| self.find(r.name()).is_none())
            .map(|r| Arc::clone(r.shared_name()))
            .collect();
        removed.dedup();
        Diff { changed, removed }
    }
}

/// Keeps `value` for `key`, forgetting entries whose key is gone; past [`REMEMBERED`] live
/// entries, keeps nothing more.
fn remember<K, V>(entries: &mut Vec<(Weak<K>, V)>, key: Weak<K>, value: V) {
    entries.retain(|(key, _)| key.strong_count() > 0);
    if entries.len() < REMEMBERED && !entries.iter().any(|(k, _)| Weak::ptr_eq(k, &key)) {
        entries.push((key, value));
    }
}

impl Default for ResourceList {
    /// The empty list: one for the process, so that what changed since it (a stream's first
    /// push) is worked out once per list too.
    fn default() -> Self {
        static EMPTY: OnceLock<ResourceList> = OnceLock::new();
        EMPTY.get_or_init(|| ResourceList(Arc::default())).clone()
    }
}

impl Deref for ResourceList {
    type Target = [Arc<Encoded>];

    fn deref(&self) -> &[Arc<Encoded>] {
        &self.0.resources
    }
}

impl From<Vec<Arc<Encoded>>> for ResourceList {
    fn from(resources: Vec<Arc<Encoded>>) -> Self {
        ResourceList::new(resources)
    }
}

impl FromIterator<Arc<Encoded>> for ResourceList {
    fn from_iter<I: IntoIterator<Item = Arc<Encoded>>>(resources: I) -> Self {
        ResourceList::new(resources.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
