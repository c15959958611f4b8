//! Sidecars' inbound sides, and what a sidecar is served, shared by every sidecar for which
//! they come out equal.
//!
//! A sidecar's inbound side is translated for it alone (it reads the workload's own
//! endpoints), but it comes out the same for every replica of a workload: a cluster per port,
//! naming the services served there, and the inbound listener, which depends on the ports
//! alone. Each inbound side made is therefore looked up by its content among those still held
//! by some sidecar, and the one found is kept instead; failing that, each of its types equal to
//! the last one made (the listener, across workloads on the same ports) is taken from there.
//!
//! A sidecar is then served the lists of its outbound side merged with those of its inbound
//! side: merged once per pair of sides, not per sidecar nor per request.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock, Weak},
};

use mesh_xds::ResourceType;

use super::Part;
use crate::xds::ResourceList;

/// The types a part holds, in the order of [`Assembled::lists`].
const TYPES: [ResourceType; 4] = [
    ResourceType::Cluster,
    ResourceType::ClusterLoadAssignment,
    ResourceType::Listener,
    ResourceType::RouteConfiguration,
];

/// The parts of one proxy's translation, and each type's list of them all, in name order.
#[derive(Debug)]
pub(super) struct Assembled {
    pub(super) parts: Vec<Arc<Part>>,
    lists: [ResourceList; 4],
}

/// Inbound sides still held by a sidecar, and the assemblies of sides still served.
#[derive(Debug, Default)]
pub(super) struct InboundParts {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// By the versions of their lists ([`key`]).
    parts: HashMap<String, Weak<Part>>,
    /// The last inbound side made, which the next takes equal types from.
    last: Weak<Part>,
    /// By the addresses of their parts, which they hold: a live entry's parts are at those
    /// addresses still.
    assembled: HashMap<Vec<usize>, Weak<Assembled>>,
    /// Entries after the last sweep of dead ones: the next sweep comes when they have doubled.
    swept: usize,
}

// === impl Assembled ===

impl Assembled {
    /// `parts` with their lists merged.
    fn new(parts: Vec<Arc<Part>>) -> Self {
        let lists = TYPES.map(|kind| merged(&parts, kind));
        Self { parts, lists }
    }

    /// Every encoded resource of `kind` in name order (none for secrets, served apart).
    pub(super) fn list(&self, kind: ResourceType) -> ResourceList {
        (TYPES.iter().position(|&k| k == kind))
            .and_then(|at| self.lists.get(at))
            .cloned()
            .unwrap_or_default()
    }
}

/// The list of `kind` of `parts`: the very list of the one part that has any, shared with
/// every proxy of its group, or the parts' lists merged when several have.
fn merged(parts: &[Arc<Part>], kind: ResourceType) -> ResourceList {
    let mut lists = (parts.iter())
        .filter_map(|part| part.encoded.list(kind))
        .filter(|list| !list.is_empty());
    match (lists.next(), lists.next()) {
        (None, _) => ResourceList::default(),
        (Some(one), None) => one.clone(),
        (Some(one), Some(two)) => [one, two]
            .into_iter()
            .chain(lists)
            .flat_map(|list| list.iter().cloned())
            .collect(),
    }
}

// === impl InboundParts ===

impl InboundParts {
    /// `part`, or an equal inbound side some sidecar holds already; else `part` taking each
    /// type it has equal from the last one made.
    pub(super) fn share(&self, part: Part) -> Arc<Part> {
        let key = key(&part);
        let found = self.read(|inner| inner.parts.get(&key).and_then(Weak::upgrade));
        // Equal versions are equal content; equal encodings are the same interned handles.
        if let Some(found) = found.filter(|found| same_encodings(found, &part)) {
            return found;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let part = Arc::new(match inner.last.upgrade() {
            Some(last) => part.share(&last),
            None => part,
        });
        inner.last = Arc::downgrade(&part);
        inner.parts.insert(key, Arc::downgrade(&part));
        inner.sweep();
        part
    }

    /// `parts` assembled: the assembly of the very same parts if one is still served.
    pub(super) fn assemble(&self, parts: Vec<Arc<Part>>) -> Arc<Assembled> {
        let key: Vec<usize> = parts.iter().map(|p| Arc::as_ptr(p) as usize).collect();
        if let Some(found) = self.read(|inner| inner.assembled.get(&key).and_then(Weak::upgrade)) {
            return found;
        }
        let assembled = Arc::new(Assembled::new(parts));
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.assembled.insert(key, Arc::downgrade(&assembled));
        inner.sweep();
        assembled
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        // Entries are inserted whole: one left by a panicking thread is still whole.
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Inner {
    /// Forgets the entries nothing holds any more, once they may outnumber those held.
    fn sweep(&mut self) {
        let entries = self.parts.len() + self.assembled.len();
        if entries < 2 * self.swept.max(64) {
            return;
        }
        self.parts.retain(|_, part| part.strong_count() > 0);
        self.assembled
            .retain(|_, assembled| assembled.strong_count() > 0);
        self.swept = self.parts.len() + self.assembled.len();
    }
}

/// The versions of a part's lists, type by type: equal content, equal key.
fn key(part: &Part) -> String {
    let versions = TYPES.map(|kind| part.encoded.list(kind).map_or("", |l| l.version()));
    versions.join("/")
}

/// Whether `a` and `b` hold the very same encodings of every type.
fn same_encodings(a: &Part, b: &Part) -> bool {
    TYPES.iter().all(|&kind| a.shares_encoding(b, kind))
}

#[cfg(test)]
mod tests;
