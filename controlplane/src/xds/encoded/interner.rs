//! Encodings interned by content: one allocation per distinct resource in the process, held
//! weakly, so that an encoding lives exactly as long as some translation or stream holds it.
//!
//! The key is what a proxy itself takes for identity: type, name and version (the content
//! hash). Two resources equal in those are interchangeable on the wire.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock, PoisonError, RwLock, Weak},
};

use mesh_xds::ResourceType;

use super::Encoded;

/// Never swept below this many entries: small sets are not worth a sweep.
const SWEEP_FLOOR: usize = 4096;

/// The encodings made so far, and how many entries there were after the last sweep.
#[derive(Debug, Default)]
pub(super) struct Interner {
    by_key: HashMap<Key, Weak<Encoded>>,
    swept_at: usize,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    kind: ResourceType,
    /// Interned: the key costs a pointer, not a copy.
    name: Arc<str>,
    content: u64,
}

fn interner() -> &'static RwLock<Interner> {
    static INTERNER: OnceLock<RwLock<Interner>> = OnceLock::new();
    INTERNER.get_or_init(RwLock::default)
}

/// The encoding of `kind` `name` at `content`, if one is still held.
pub(super) fn find(kind: ResourceType, name: &Arc<str>, content: u64) -> Option<Arc<Encoded>> {
    // Entries are whole once inserted: one left by a panicking thread is still valid.
    let interner = interner().read().unwrap_or_else(PoisonError::into_inner);
    interner.find(kind, name, content)
}

/// `made`, interned: or the equal one another thread interned first.
pub(super) fn insert(content: u64, made: Arc<Encoded>) -> Arc<Encoded> {
    let mut interner = interner().write().unwrap_or_else(PoisonError::into_inner);
    interner.insert(content, made)
}

// === impl Interner ===

impl Interner {
    fn find(&self, kind: ResourceType, name: &Arc<str>, content: u64) -> Option<Arc<Encoded>> {
        let key = Key {
            kind,
            name: Arc::clone(name),
            content,
        };
        self.by_key.get(&key)?.upgrade()
    }

    pub(super) fn insert(&mut self, content: u64, made: Arc<Encoded>) -> Arc<Encoded> {
        let key = Key {
            kind: made.kind,
            name: Arc::clone(&made.name),
            content,
        };
        if let Some(found) = self.by_key.get(&key).and_then(Weak::upgrade) {
            return found;
        }
        // Entries nothing holds any more go once the map has doubled since the last sweep,
        // which keeps the cost of sweeping to a constant per encoding interned.
        if self.by_key.len() >= SWEEP_FLOOR.max(2 * self.swept_at) {
            self.by_key.retain(|_, held| held.strong_count() > 0);
            self.swept_at = self.by_key.len();
        }
        self.by_key.insert(key, Arc::downgrade(&made));
        made
    }

    /// Entries in the map, held or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use mesh_xds::Resource;

    use super::*;

    fn cluster(name: &str, connect_timeout_seconds: i64) -> Resource {
        Resource::from(Cluster {
            name: name.to_string(),
            connect_timeout: Some(envoy_types::pb::google::protobuf::Duration {
                seconds: connect_timeout_seconds,
                nanos: 0,
            }),
            ..Cluster::default()
        })
    }

    #[test]
    fn equal_resources_share_one_encoding_whoever_made_them() {
        let a = Encoded::new(cluster("interner-shares|a", 1));
        let again = Encoded::new(cluster("interner-shares|a", 1));
        assert!(Arc::ptr_eq(&a, &again));
        let other_content = Encoded::new(cluster("interner-shares|a", 2));
        assert!(!Arc::ptr_eq(&a, &other_content));
        assert_ne!(a.version(), other_content.version());
        let other_name = Encoded::new(cluster("interner-shares|b", 1));
        assert!(!Arc::ptr_eq(&a, &other_name));
        assert_eq!(Arc::strong_count(&a), 2);
    }

    #[test]
    fn an_encoding_nothing_holds_is_made_again_and_swept() {
        let first = Encoded::new(cluster("interner-drops|a", 1));
        let version = first.version().to_string();
        let weak = Arc::downgrade(&first);
        drop(first);
        assert_eq!(weak.strong_count(), 0, "the interner holds it weakly");
        let again = Encoded::new(cluster("interner-drops|a", 1));
        assert_eq!(again.version(), version);
        assert!(weak.upgrade().is_none(), "made anew, not revived");

        let mut interner = Interner::default();
        let held: Vec<Arc<Encoded>> = (0..SWEEP_FLOOR)
            .map(|i| {
                let made = Encoded::new(cluster(&format!("interner-held|{i}"), 1));
                interner.insert(i as u64, made)
            })
            .collect();
        for i in 0..SWEEP_FLOOR {
            let made = Encoded::new(cluster(&format!("interner-dropped|{i}"), 1));
            drop(interner.insert(i as u64, made));
        }
        // Swept when the first dropped one came (nothing to sweep yet): every entry is there.
        assert_eq!(interner.swept_at, SWEEP_FLOOR);
        assert_eq!(interner.len(), 2 * SWEEP_FLOOR);
        let made = Encoded::new(cluster("interner-dropped|last", 1));
        drop(interner.insert(u64::MAX, made));
        // The second sweep: the dropped ones went, the held ones stayed, and the last is in.
        assert_eq!(interner.swept_at, SWEEP_FLOOR);
        assert_eq!(interner.len(), SWEEP_FLOOR + 1);
        let found = interner.find(ResourceType::Cluster, &held[7].name, 7);
        assert!(found.is_some_and(|found| Arc::ptr_eq(&found, &held[7])));
        let gone = crate::xds::names::intern("interner-dropped|3");
        assert!(interner.find(ResourceType::Cluster, &gone, 3).is_none());
    }
}
