//! What one stream has subscribed to, for both protocol variants.
//!
//! Clusters and listeners are subscribed by wildcard. Assignments and route configurations are
//! named, and their names follow the configuration: a new EDS cluster needs its assignment, a
//! new RDS listener its routes. Only the wire format of a subscription differs between state of
//! the world and delta; which names to ask for, and when, is decided here.

use std::collections::{BTreeSet, HashMap};

use mesh_xds::resource::ResourceType;

use super::apply::Applier;

/// The types subscribed by wildcard, in the order a stream opens them.
pub(super) const WILDCARD: [ResourceType; 2] = [ResourceType::Cluster, ResourceType::Listener];

/// The types subscribed by name.
const NAMED: [ResourceType; 2] = [
    ResourceType::ClusterLoadAssignment,
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
                self.named.insert(*kind, wanted.clone());
            })
            .collect()
    }

    /// After a response of `kind` was handled: the named type whose names it decides, if the
    /// names it needs are no longer the ones asked for. Records the new names as asked.
    pub fn follow(&mut self, kind: ResourceType, applier: &Applier) -> Option<Change> {
        let dependent = dependent_of(kind)?;
        let wanted = applier.names().of(dependent);
        let asked = self.named.get(&dependent);
        let previous = asked.cloned().unwrap_or_default();
        if wanted == previous {
            return None;
        }
        let first = asked.is_none();
        self.named.insert(dependent, wanted.clone());
        Some(Change {
            kind: dependent,
            previous,
            wanted,
            first,
        })
    }

    /// The names asked for `kind`; empty for the wildcard types.
    pub fn of(&self, kind: ResourceType) -> BTreeSet<String> {
        self.named.get(&kind).cloned().unwrap_or_default()
    }
}

/// The named type whose names the resources of `kind` decide.
fn dependent_of(kind: ResourceType) -> Option<ResourceType> {
    match kind {
        ResourceType::Cluster => Some(ResourceType::ClusterLoadAssignment),
        ResourceType::Listener => Some(ResourceType::RouteConfiguration),
        _ => None,
    }
}
