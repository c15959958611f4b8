//! The outbound sides of sidecars, shared by the sidecars of each [`OutboundKey`] at one
//! snapshot, and carried to the next snapshot for the keys its change did not reach. A key the
//! change reached for endpoints alone has only its load assignments translated again, and
//! keys that had the same load assignments before get the same ones again without asking
//! translation twice. A part made whole takes from the first part of its namespace, then from
//! the first part of any namespace, the types it has equal (see [`Part::share`]).
//!
//! The parts of the snapshot before are kept only until their key's part is made again: they
//! serve that making (a kept load assignment list, encodings to reuse), nothing after.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, PoisonError},
};

use super::{
    ModelGenerator, Part,
    parts::{AssignmentList, EncodedList},
};
use crate::{
    model::Snapshot,
    server::metrics::{OUTBOUND_ENDPOINTS, OUTBOUND_WHOLE},
    translate::{self, OutboundKey, Proxy, outbound_key, selected_label_keys},
    xds::{ProxyClass, Reach, Target},
};

/// Outbound sides made at one snapshot.
#[derive(Debug, Default)]
pub(super) struct OutboundCache {
    /// The snapshot they were made at (compared by identity: equal versions do not make
    /// equal snapshots in tests that build them by hand).
    snapshot: Option<Arc<Snapshot>>,
    /// The label keys the snapshot's selectors read.
    selected: Arc<BTreeSet<String>>,
    parts: HashMap<OutboundKey, Arc<Part>>,
    /// The parts of the snapshot before, whose encodings a part made again may reuse.
    previous: HashMap<OutboundKey, Arc<Part>>,
    /// The keys the change from the snapshot before reached for their endpoints alone: their
    /// previous part is kept but for its load assignments.
    endpoints_only: HashSet<OutboundKey>,
    /// The first part made whole of each namespace, which the next ones share types with.
    peers: HashMap<String, Arc<Part>>,
    /// The first part made whole of any namespace: namespaces that see the same services
    /// often have equal clusters.
    first: Option<Arc<Part>>,
    /// The load assignments remade for a change of endpoints alone, by the list they replace.
    refreshed: Vec<Refreshed>,
}

/// Load assignments made again for a change of endpoints alone: every part that had `before`
/// gets `after`, which depends only on `before` and the snapshot.
#[derive(Debug)]
struct Refreshed {
    before: AssignmentList,
    after: AssignmentList,
    encoded: EncodedList,
}

/// An outbound part found in the cache, or what making it needs.
type Lookup = Result<Arc<Part>, Missing>;

/// An outbound part to make: its key, the part made for it at the snapshot before, if any, and
/// whether only the endpoints changed since.
struct Missing {
    key: OutboundKey,
    previous: Option<Arc<Part>>,
    endpoints_only: bool,
}

// === impl ModelGenerator ===

impl ModelGenerator {
    /// The outbound side of `proxy` at `snapshot`: made once per outbound key and snapshot, and
    /// kept across snapshots for the keys no change reached.
    pub(super) fn outbound_part(&self, snapshot: &Arc<Snapshot>, proxy: &Proxy) -> Arc<Part> {
        let same = |cache: &OutboundCache| {
            cache
                .snapshot
                .as_ref()
                .is_some_and(|cached| Arc::ptr_eq(cached, snapshot))
        };
        // The part of `key` if made at `snapshot`, else the one made before it.
        let lookup = |key: OutboundKey| -> Lookup {
            let cache = self.outbound.read().unwrap_or_else(PoisonError::into_inner);
            if !same(&cache) {
                return Err(Missing::anew(key));
            }
            match cache.parts.get(&key) {
                Some(part) => Ok(Arc::clone(part)),
                None => Err(Missing {
                    previous: cache.previous.get(&key).cloned(),
                    endpoints_only: cache.endpoints_only.contains(&key),
                    key,
                }),
            }
        };
        let selected = {
            let cache = self.outbound.read().unwrap_or_else(PoisonError::into_inner);
            same(&cache).then(|| Arc::clone(&cache.selected))
        };
        let found = match selected {
            Some(selected) => lookup(outbound_key(proxy, &selected)),
            None => match self.advance_outbound(snapshot) {
                Ok(selected) => lookup(outbound_key(proxy, &selected)),
                // A snapshot older than the cache's: made for this request alone.
                Err(selected) => Err(Missing::anew(outbound_key(proxy, &selected))),
            },
        };
        let Missing {
            key,
            previous,
            endpoints_only,
        } = match found {
            Ok(part) => return part,
            Err(missing) => missing,
        };
        // As for whole translations, two sidecars of one key may both make it; same result.
        let representative = key.representative();
        let refreshed = previous
            .as_deref()
            .filter(|_| endpoints_only)
            .and_then(|kept| {
                if let Some(part) = self.refreshed_alike(snapshot, kept) {
                    return Some(part);
                }
                let sources = translate::sidecar_sources(snapshot, &representative);
                // `None` when the endpoints name other clusters than the kept ones: the change
                // reached more than endpoints after all, and the whole side is made again.
                let part = Part::with_assignments(kept, sources, &self.assignments)?;
                let (after, encoded) = part.assignment_list();
                let mut cache = self
                    .outbound
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if same(&cache) {
                    cache.refreshed.push(Refreshed {
                        before: Arc::clone(&kept.assignments),
                        after,
                        encoded,
                    });
                }
                Some(part)
            });
        let part = match refreshed {
            Some(part) => {
                self.metrics.outbound_translated(OUTBOUND_ENDPOINTS);
                Arc::new(part)
            }
            None => {
                self.metrics.outbound_translated(OUTBOUND_WHOLE);
                let part = Part::outbound(
                    translate::sidecar_outbound(snapshot, &representative),
                    translate::sidecar_sources(snapshot, &representative),
                    previous.as_deref(),
                    &self.assignments,
                );
                let peers: Vec<Arc<Part>> = {
                    let cache = self.outbound.read().unwrap_or_else(PoisonError::into_inner);
                    let peers = [cache.peers.get(&key.namespace), cache.first.as_ref()];
                    match same(&cache) {
                        true => peers.into_iter().flatten().cloned().collect(),
                        false => Vec::new(),
                    }
                };
                Arc::new(peers.iter().fold(part, |part, peer| part.share(peer)))
            }
        };
        let mut cache = self
            .outbound
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if same(&cache) {
            if !cache.peers.contains_key(&key.namespace) {
                cache.peers.insert(key.namespace.clone(), part.clone());
            }
            if cache.first.is_none() {
                cache.first = Some(part.clone());
            }
            // Made again: the part before has served its purpose.
            cache.previous.remove(&key);
            cache.parts.entry(key).or_insert_with(|| part.clone());
        }
        part
    }

    /// `kept` with the load assignments made at `snapshot` for another key that had the very
    /// same ones as `kept` before, if any.
    fn refreshed_alike(&self, snapshot: &Arc<Snapshot>, kept: &Part) -> Option<Part> {
        let cache = self.outbound.read().unwrap_or_else(PoisonError::into_inner);
        if !cache
            .snapshot
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(cached, snapshot))
        {
            return None;
        }
        let alike = (cache.refreshed.iter()).find(|r| Arc::ptr_eq(&r.before, &kept.assignments))?;
        Some(Part::with_list(
            kept,
            Arc::clone(&alike.after),
            alike.encoded.clone(),
        ))
    }

    /// Moves the outbound cache to `snapshot` unless it is there or further, keeping the parts
    /// of the keys no change since reached, and gives the label keys selectors read at
    /// `snapshot`: `Err` when the cache is at a newer snapshot, which it keeps.
    fn advance_outbound(
        &self,
        snapshot: &Arc<Snapshot>,
    ) -> Result<Arc<BTreeSet<String>>, Arc<BTreeSet<String>>> {
        let selected = Arc::new(selected_label_keys(snapshot));
        let mut cache = self
            .outbound
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(cached) = cache.snapshot.clone() else {
            *cache = OutboundCache {
                snapshot: Some(snapshot.clone()),
                selected: selected.clone(),
                ..OutboundCache::default()
            };
            return Ok(selected);
        };
        if Arc::ptr_eq(&cached, snapshot) {
            // Another stream moved it meanwhile.
            return Ok(cache.selected.clone());
        }
        if cached.version() > snapshot.version() {
            return Err(selected);
        }
        let parts = std::mem::take(&mut cache.parts);
        // Keys are made of the labels selectors read: when those change, so do the groups. Two
        // snapshots of one version built apart (by hand, in tests) carry nothing either.
        let (from, to) = (cached.version(), snapshot.version());
        let mut carried = HashMap::new();
        let mut endpoints_only = HashSet::new();
        let mut peers = HashMap::new();
        let mut first = None;
        if *cache.selected == *selected && from < to {
            let group = |key: &OutboundKey| Target {
                class: Some(ProxyClass::Sidecar),
                namespace: Some(key.namespace.clone()),
                ips: Vec::new(),
            };
            for (key, part) in &parts {
                match self.reach(from, to, &group(key)) {
                    Reach::None => {
                        first.get_or_insert_with(|| Arc::clone(part));
                        peers
                            .entry(key.namespace.clone())
                            .or_insert_with(|| Arc::clone(part));
                        carried.insert(key.clone(), Arc::clone(part));
                    }
                    Reach::Endpoints => {
                        endpoints_only.insert(key.clone());
                    }
                    Reach::All => {}
                }
            }
        }
        self.assignments.retain(snapshot);
        *cache = OutboundCache {
            snapshot: Some(snapshot.clone()),
            selected: selected.clone(),
            parts: carried,
            previous: parts,
            endpoints_only,
            peers,
            first,
            refreshed: Vec::new(),
        };
        Ok(selected)
    }
}

// === impl Missing ===

impl Missing {
    /// A part to make from scratch.
    fn anew(key: OutboundKey) -> Self {
        Self {
            key,
            previous: None,
            endpoints_only: false,
        }
    }
}
