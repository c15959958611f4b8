//! Load assignments made once and shared: by every group of sidecars whose view of a service
//! port is the same, and across snapshots for as long as the service keeps its `Arc` (the
//! snapshot carries unchanged services over by pointer). An endpoint change of one service
//! makes that service's assignments once, whatever the number of groups, and leaves every
//! other assignment, and its encoding, as it was.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, PoisonError, RwLock},
};

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

use crate::{
    model::{Service, Snapshot},
    translate::AssignmentSource,
    xds::Encoded,
};

/// One load assignment, what it was made of, and its encoding.
#[derive(Debug)]
pub struct Assignment {
    source: AssignmentSource,
    resource: ClusterLoadAssignment,
    encoded: Arc<Encoded>,
}

/// The assignments made so far, by cluster name (a name may stand for different views of a
/// service: other subsets' labels, or an older snapshot's service still asked for).
#[derive(Debug, Default)]
pub(super) struct Assignments {
    by_name: RwLock<HashMap<String, Vec<Arc<Assignment>>>>,
}

// === impl Assignment ===

impl Assignment {
    fn new(source: AssignmentSource, resource: ClusterLoadAssignment) -> Self {
        let encoded = Encoded::new(resource.clone().into());
        Self {
            source,
            resource,
            encoded,
        }
    }

    /// What it was made of.
    pub fn source(&self) -> &AssignmentSource {
        &self.source
    }

    /// The load assignment.
    pub fn resource(&self) -> &ClusterLoadAssignment {
        &self.resource
    }

    /// Its encoding, shared by every response that carries it.
    pub fn encoded(&self) -> &Arc<Encoded> {
        &self.encoded
    }
}

// === impl Assignments ===

impl Assignments {
    /// The assignment of `source`: the one already made of the same source, else made now.
    pub(super) fn get(&self, source: AssignmentSource) -> Arc<Assignment> {
        self.share(source, AssignmentSource::assignment)
    }

    /// The assignment of `source`, whose load assignment `made` is (translated with the rest
    /// of a part): the one already made of the same source, so that its encoding is shared,
    /// else `made`, encoded now.
    pub(super) fn adopt(
        &self,
        source: AssignmentSource,
        made: ClusterLoadAssignment,
    ) -> Arc<Assignment> {
        self.share(source, move |_| made)
    }

    /// Forgets the assignments of services `snapshot` no longer has: they can no longer be
    /// asked for but by a translation of an older snapshot, which makes them again.
    pub(super) fn retain(&self, snapshot: &Snapshot) {
        let live: HashSet<*const Service> = snapshot.services().iter().map(Arc::as_ptr).collect();
        let mut by_name = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        by_name.retain(|_, made| {
            made.retain(|a| live.contains(&Arc::as_ptr(&a.source.service)));
            !made.is_empty()
        });
    }

    /// How many assignments are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        let by_name = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        by_name.values().map(Vec::len).sum()
    }

    fn share(
        &self,
        source: AssignmentSource,
        make: impl FnOnce(&AssignmentSource) -> ClusterLoadAssignment,
    ) -> Arc<Assignment> {
        if let Some(made) = self.find(&source) {
            return made;
        }
        // Made and encoded outside the lock: other streams go on meanwhile. Two that make the
        // same one keep the first inserted.
        let resource = make(&source);
        let made = Arc::new(Assignment::new(source, resource));
        let mut by_name = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        let entries = by_name.entry(made.source.cluster_name.clone()).or_default();
        match entries.iter().find(|a| a.source.same(&made.source)) {
            Some(first) => Arc::clone(first),
            None => {
                entries.push(Arc::clone(&made));
                made
            }
        }
    }

    fn find(&self, source: &AssignmentSource) -> Option<Arc<Assignment>> {
        // Entries are whole once inserted: one left by a panicking thread is still valid.
        let by_name = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        by_name
            .get(&source.cluster_name)?
            .iter()
            .find(|a| a.source.same(source))
            .cloned()
    }
}
