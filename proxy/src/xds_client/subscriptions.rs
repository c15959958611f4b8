//! What one stream has subscribed to, for both protocol variants.
//!
//! Clusters and listeners are subscribed by wildcard. Assignments, route configurations and
//! secrets are named, and their names follow the configuration: a new EDS cluster needs its
//! assignment, a cluster or listener whose TLS references secrets over SDS needs them, a new
//! RDS listener its routes; a name no longer needed is unsubscribed. Only the wire format of a subscription differs between state of
//! the world and delta; which names to ask for, and when, is decided here.

use std::collections::{BTreeSet, HashMap};

use mesh_xds::resource::ResourceType;

use super::apply::Applier;

/// The types subscribed by wildcard, in the order a stream opens them.
pub(super) const WILDCARD: [ResourceType; 2] = [ResourceType::Cluster, ResourceType::Listener];

/// The types subscribed by name.
const NAMED: [ResourceType; 3] = [
    ResourceType::ClusterLoadAssignment,
    ResourceType::Secret,
    ResourceType::RouteConfiguration,
];

/// A named subscription that changed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Change {
    pub kind: ResourceType,
    /// What was asked for before; empty when the type was never asked for.
    pub previous: BTreeSet<String>,
    /// What the configuration needs now.
    pub wanted: BTreeSet<String>,
    /// Whether this is the type's first request on the stream.
    pub first: bool,
}

/// The named subscriptions of one stream.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    named: HashMap<ResourceType, BTreeSet<String>>,
}

// === impl Subscriptions ===

impl Subscriptions {
    /// The named subscriptions a new stream opens with: each type the configuration already
    /// needs names of (a reconnection), none for the types it needs nothing of yet.
    pub fn open(&mut self, applier: &Applier) -> Vec<(ResourceType, BTreeSet<String>)> {
        let names = applier.names();
        NAMED
            .into_iter()
            .map(|kind| (kind, names.of(kind)))
            .filter(|(_, wanted)| !wanted.is_empty())
            .inspect(|(kind, wanted)| {
                applier.state.subscribed(*kind, wanted);
                self.named.insert(*kind, wanted.clone());
            })
            .collect()
    }

    /// After a response of `kind` was handled: the named types whose names it decides and
    /// whose names needed are no longer the ones asked for. Records the new names as asked.
    pub fn follow(&mut self, kind: ResourceType, applier: &Applier) -> Vec<Change> {
        let dependents = dependents_of(kind);
        if dependents.is_empty() {
            return Vec::new();
        }
        let names = applier.names();
        let mut changes = Vec::new();
        for &dependent in dependents {
            let wanted = names.of(dependent);
            let asked = self.named.get(&dependent);
            let previous = asked.cloned().unwrap_or_default();
            if wanted == previous {
                continue;
            }
            let first = asked.is_none();
            applier.state.subscribed(dependent, &wanted);
            self.named.insert(dependent, wanted.clone());
            changes.push(Change {
                kind: dependent,
                previous,
                wanted,
                first,
            });
        }
        changes
    }

    /// The names asked for `kind`; empty for the wildcard types.
    pub fn of(&self, kind: ResourceType) -> BTreeSet<String> {
        self.named.get(&kind).cloned().unwrap_or_default()
    }
}

/// The named types whose names the resources of `kind` decide.
fn dependents_of(kind: ResourceType) -> &'static [ResourceType] {
    match kind {
        ResourceType::Cluster => &[ResourceType::ClusterLoadAssignment, ResourceType::Secret],
        ResourceType::Listener => &[ResourceType::RouteConfiguration, ResourceType::Secret],
        _ => &[],
    }
}
