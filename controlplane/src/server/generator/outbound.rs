//! The outbound sides of sidecars, shared by the sidecars of each [`OutboundKey`] at one
//! snapshot, and carried to the next snapshot for the keys its change did not reach.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, PoisonError},
};

use super::{ModelGenerator, Part};
use crate::{
    model::Snapshot,
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
}

/// An outbound part found in the cache, or its key and the part made for it at the snapshot
/// before, if any.
type Lookup = Result<Arc<Part>, (OutboundKey, Option<Arc<Part>>)>;

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
                return Err((key, None));
            }
            match cache.parts.get(&key) {
                Some(part) => Ok(Arc::clone(part)),
                None => {
                    let previous = cache.previous.get(&key).cloned();
                    Err((key, previous))
                }
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
                Err(selected) => Err((outbound_key(proxy, &selected), None)),
            },
        };
        let (key, previous) = match found {
            Ok(part) => return part,
            Err(missing) => missing,
        };
        // As for whole translations, two sidecars of one key may both make it; same result.
        let part = Arc::new(Part::reusing(
            translate::sidecar_outbound(snapshot, &key.representative()),
            previous.as_deref(),
        ));
        let mut cache = self
            .outbound
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if same(&cache) {
            cache.parts.entry(key).or_insert_with(|| part.clone());
        }
        part
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
        let carried = if *cache.selected == *selected && from < to {
            let group = |key: &OutboundKey| Target {
                class: Some(ProxyClass::Sidecar),
                namespace: Some(key.namespace.clone()),
                ips: Vec::new(),
            };
            parts
                .iter()
                .filter(|(key, _)| self.reach(from, to, &group(key)) == Reach::None)
                .map(|(key, part)| (key.clone(), Arc::clone(part)))
                .collect()
        } else {
            HashMap::new()
        };
        *cache = OutboundCache {
            snapshot: Some(snapshot.clone()),
            selected: selected.clone(),
            parts: carried,
            previous: parts,
        };
        Ok(selected)
    }
}
