//! Translations encoded for the wire, type by type, and reused where a later translation
//! turns out equal.
//!
//! Each type's resources and their encodings are one shared list: a part made again keeps the
//! lists of the types that came out equal, and a part equal in a type to another group's takes
//! that group's list ([`Part::share`]), so that sidecars that differ only in, say, their
//! listeners hold one copy of everything else.

use std::sync::Arc;

use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
    route::v3::RouteConfiguration,
};
use mesh_xds::{Resource, ResourceType};

use super::assignments::{Assignment, Assignments};
use crate::{
    translate::{AssignmentSource, Resources},
    xds::{Encoded, ResourceList, Subscription},
};

/// Resources translated together, and encoded for the wire once.
#[derive(Debug)]
pub struct Part {
    pub(super) clusters: Typed<Cluster>,
    /// The load assignments of a part made without [`Assignments`] (an inbound side, a
    /// gateway); empty when `assignments` holds them.
    pub(super) endpoints: Typed<ClusterLoadAssignment>,
    pub(super) listeners: Typed<Listener>,
    pub(super) routes: Typed<RouteConfiguration>,
    /// An outbound side's load assignments, in name order, each shared with every other part
    /// that has the same one.
    pub(super) assignments: AssignmentList,
    pub(super) encoded: EncodedResources,
}

/// The resources of one type, in name order; shared.
pub(super) type Typed<T> = Arc<Vec<T>>;

/// Load assignments, in name order; shared.
pub(super) type AssignmentList = Arc<[Arc<Assignment>]>;

/// Encodings of one type, in name order; shared, and served to streams as it is.
pub(super) type EncodedList = ResourceList;

/// A translation encoded for the wire, type by type, in name order; each list shared.
#[derive(Clone, Debug, Default)]
pub struct EncodedResources {
    clusters: EncodedList,
    endpoints: EncodedList,
    listeners: EncodedList,
    routes: EncodedList,
}

// === impl Part ===

impl Part {
    pub(super) fn new(resources: Resources) -> Self {
        Self::reusing(resources, None)
    }

    /// Encodes `resources`, taking each type's encoding from `previous` when that type's
    /// resources are equal there: comparing costs far less than encoding and hashing, and an
    /// endpoint change leaves the other types as they were.
    pub(super) fn reusing(mut resources: Resources, previous: Option<&Part>) -> Self {
        // Encodings are served in name order, and matched to their resources by position.
        resources.sort();
        let Resources {
            clusters,
            endpoints,
            listeners,
            routes,
        } = resources;
        let empty = Part::empty();
        let before = previous.unwrap_or(&empty);
        let (old, encoded) = (before, &before.encoded);
        let (clusters, clusters_encoded) = reuse(clusters, &old.clusters, &encoded.clusters);
        let (endpoints, endpoints_encoded) = reuse(endpoints, &old.endpoints, &encoded.endpoints);
        let (listeners, listeners_encoded) = reuse(listeners, &old.listeners, &encoded.listeners);
        let (routes, routes_encoded) = reuse(routes, &old.routes, &encoded.routes);
        Self {
            clusters,
            endpoints,
            listeners,
            routes,
            assignments: Arc::from([]),
            encoded: EncodedResources {
                clusters: clusters_encoded,
                endpoints: endpoints_encoded,
                listeners: listeners_encoded,
                routes: routes_encoded,
            },
        }
    }

    /// A sidecar's outbound side: as [`Part::reusing`], but its load assignments, made of
    /// `sources` (theirs, in the same order), are taken from `shared` where another part
    /// already has the same, and put there for the next.
    pub(super) fn outbound(
        mut resources: Resources,
        sources: Vec<AssignmentSource>,
        previous: Option<&Part>,
        shared: &Assignments,
    ) -> Self {
        let endpoints = std::mem::take(&mut resources.endpoints);
        let paired = endpoints.len() == sources.len()
            && (endpoints.iter().zip(&sources)).all(|(e, s)| e.cluster_name == s.cluster_name);
        if !paired {
            // Both read the same filters; should they ever part, the assignments translated
            // with the rest are right, only not shared.
            resources.endpoints = endpoints;
            return Self::reusing(resources, previous);
        }
        let assignments: AssignmentList = (sources.into_iter().zip(endpoints))
            .map(|(source, made)| shared.adopt(source, made))
            .collect();
        let mut part = Self::reusing(resources, previous);
        part.encoded.endpoints = match previous {
            Some(before) if same_assignments(&before.assignments, &assignments) => {
                part.assignments = Arc::clone(&before.assignments);
                before.encoded.endpoints.clone()
            }
            _ => {
                part.assignments = assignments;
                encodings(&part.assignments)
            }
        };
        part
    }

    /// `previous` with its load assignments made of `sources`, when they are for exactly the
    /// clusters `previous` has them for (the clusters kept, which name them); `None` otherwise,
    /// for the caller to translate the whole part again. An assignment whose source is the
    /// same as before is kept as it is; the others come from `shared`. The other types, and
    /// their encodings, are `previous`'s.
    pub(super) fn with_assignments(
        previous: &Part,
        sources: Vec<AssignmentSource>,
        shared: &Assignments,
    ) -> Option<Self> {
        let before = &previous.assignments;
        let same_clusters = previous.endpoints.is_empty()
            && before.len() == sources.len()
            && (before.iter().zip(&sources))
                .all(|(a, b)| a.source().cluster_name == b.cluster_name);
        if !same_clusters {
            return None;
        }
        let assignments: AssignmentList = (before.iter().zip(sources))
            .map(|(kept, source)| match kept.source().same(&source) {
                true => Arc::clone(kept),
                false => shared.get(source),
            })
            .collect();
        let encoded = encodings(&assignments);
        Some(Self::with_list(previous, assignments, encoded))
    }

    /// `previous` with the load assignments `assignments`, whose encodings are `encoded`.
    pub(super) fn with_list(
        previous: &Part,
        assignments: AssignmentList,
        encoded: EncodedList,
    ) -> Self {
        Self {
            clusters: Arc::clone(&previous.clusters),
            endpoints: Arc::clone(&previous.endpoints),
            listeners: Arc::clone(&previous.listeners),
            routes: Arc::clone(&previous.routes),
            assignments,
            encoded: EncodedResources {
                endpoints: encoded,
                ..previous.encoded.clone()
            },
        }
    }

    /// Its load assignments and their encodings, as [`Part::with_list`] takes them.
    pub(super) fn assignment_list(&self) -> (AssignmentList, EncodedList) {
        (
            Arc::clone(&self.assignments),
            self.encoded.endpoints.clone(),
        )
    }

    /// This part, taking from `peer` (another group's, at the same snapshot) each type whose
    /// resources are equal there, with its encodings: one copy for every group.
    pub(super) fn share(mut self, peer: &Part) -> Self {
        let (encoded, theirs) = (&mut self.encoded, &peer.encoded);
        take_equal(
            (&mut self.clusters, &mut encoded.clusters),
            (&peer.clusters, &theirs.clusters),
        );
        take_equal(
            (&mut self.endpoints, &mut encoded.endpoints),
            (&peer.endpoints, &theirs.endpoints),
        );
        take_equal(
            (&mut self.listeners, &mut encoded.listeners),
            (&peer.listeners, &theirs.listeners),
        );
        take_equal(
            (&mut self.routes, &mut encoded.routes),
            (&peer.routes, &theirs.routes),
        );
        if !Arc::ptr_eq(&self.assignments, &peer.assignments)
            && same_assignments(&self.assignments, &peer.assignments)
        {
            self.assignments = Arc::clone(&peer.assignments);
            encoded.endpoints = theirs.endpoints.clone();
        }
        self
    }

    /// Everything it holds, load assignments included.
    pub(super) fn resources(&self) -> Resources {
        let mut endpoints = (*self.endpoints).clone();
        endpoints.extend(self.assignments.iter().map(|a| a.resource().clone()));
        Resources {
            clusters: (*self.clusters).clone(),
            endpoints,
            listeners: (*self.listeners).clone(),
            routes: (*self.routes).clone(),
        }
    }

    /// Whether the encoding of `kind` is the very same as `other`'s: it was not made again.
    pub fn shares_encoding(&self, other: &Part, kind: ResourceType) -> bool {
        let (a, b) = (self.encoded.of_type(kind), other.encoded.of_type(kind));
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// Whether the list of `kind` is the very one `other` holds: shared, not a copy.
    pub fn shares_list(&self, other: &Part, kind: ResourceType) -> bool {
        let (a, b) = (self.encoded.list(kind), other.encoded.list(kind));
        matches!((a, b), (Some(a), Some(b)) if ResourceList::ptr_eq(a, b))
    }

    fn empty() -> Self {
        Self {
            clusters: Arc::default(),
            endpoints: Arc::default(),
            listeners: Arc::default(),
            routes: Arc::default(),
            assignments: Arc::from([]),
            encoded: EncodedResources::default(),
        }
    }
}

// === impl EncodedResources ===

impl EncodedResources {
    /// The resources of one type that `subscription` names.
    pub fn select(
        &self,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Vec<Arc<Encoded>> {
        self.of_type(resource_type)
            .iter()
            .filter(|resource| subscription.contains(resource.name()))
            .cloned()
            .collect()
    }

    pub(super) fn of_type(&self, resource_type: ResourceType) -> &[Arc<Encoded>] {
        self.list(resource_type).map_or(&[], |list| &list[..])
    }

    pub(super) fn list(&self, resource_type: ResourceType) -> Option<&EncodedList> {
        match resource_type {
            ResourceType::Cluster => Some(&self.clusters),
            ResourceType::ClusterLoadAssignment => Some(&self.endpoints),
            ResourceType::Listener => Some(&self.listeners),
            ResourceType::RouteConfiguration => Some(&self.routes),
            // Certificates are served apart (see `secrets`).
            ResourceType::Secret => None,
        }
    }
}

fn encodings(assignments: &[Arc<Assignment>]) -> EncodedList {
    assignments
        .iter()
        .map(|a| Arc::clone(a.encoded()))
        .collect()
}

/// Whether two lists hold the very same assignments.
fn same_assignments(a: &[Arc<Assignment>], b: &[Arc<Assignment>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
}

/// Takes `theirs` (a list and its encodings) in place of `ours` when they are equal.
fn take_equal<T: PartialEq>(
    ours: (&mut Typed<T>, &mut EncodedList),
    theirs: (&Typed<T>, &EncodedList),
) {
    if !Arc::ptr_eq(ours.0, theirs.0) && **ours.0 == **theirs.0 {
        *ours.0 = Arc::clone(theirs.0);
        *ours.1 = theirs.1.clone();
    }
}

/// `items` with their encodings: `before`'s list and encodings when equal to it, else each
/// encoding taken from `encoded` (those of `before`) where the item at its position is equal
/// there: one changed resource among thousands is encoded and hashed alone, and the others keep
/// the very encodings the proxies were sent.
fn reuse<T: Clone + PartialEq + Into<Resource>>(
    items: Vec<T>,
    before: &Typed<T>,
    encoded: &EncodedList,
) -> (Typed<T>, EncodedList) {
    if before.len() == encoded.len() && items == **before {
        return (Arc::clone(before), encoded.clone());
    }
    let encodings = items
        .iter()
        .enumerate()
        .map(|(at, item)| match (before.get(at), encoded.get(at)) {
            (Some(old), Some(encoding)) if before.len() == encoded.len() && old == item => {
                Arc::clone(encoding)
            }
            _ => Encoded::new(item.clone().into()),
        })
        .collect();
    (Arc::new(items), encodings)
}
