//! Translations encoded for the wire, type by type, and reused where a later translation
//! turns out equal.

use std::sync::Arc;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use mesh_xds::{Resource, ResourceType};

use crate::{
    translate::Resources,
    xds::{Encoded, Subscription},
};

/// Resources translated together, and encoded for the wire once.
#[derive(Debug)]
pub struct Part {
    pub(super) resources: Resources,
    pub(super) encoded: EncodedResources,
}

/// A translation encoded for the wire, type by type, in name order.
#[derive(Debug, Default)]
pub struct EncodedResources {
    clusters: Vec<Arc<Encoded>>,
    endpoints: Vec<Arc<Encoded>>,
    listeners: Vec<Arc<Encoded>>,
    routes: Vec<Arc<Encoded>>,
}

// === impl Part ===

impl Part {
    pub(super) fn new(resources: Resources) -> Self {
        Self::reusing(resources, None)
    }

    /// Encodes `resources`, taking each type's encoding from `previous` when that type's
    /// resources are equal there: comparing costs far less than encoding and hashing, and an
    /// endpoint change leaves the other types as they were.
    pub(super) fn reusing(resources: Resources, previous: Option<&Part>) -> Self {
        let Some(previous) = previous else {
            return Self {
                encoded: EncodedResources::new(&resources),
                resources,
            };
        };
        let (before, encoded) = (&previous.resources, &previous.encoded);
        let encoded = EncodedResources {
            clusters: reuse(&resources.clusters, &before.clusters, &encoded.clusters),
            endpoints: reuse(&resources.endpoints, &before.endpoints, &encoded.endpoints),
            listeners: reuse(&resources.listeners, &before.listeners, &encoded.listeners),
            routes: reuse(&resources.routes, &before.routes, &encoded.routes),
        };
        Self { resources, encoded }
    }

    /// `previous` with its load assignments replaced by `endpoints`, when they cover exactly the
    /// clusters `previous` has them for (the clusters kept, which name them); `None` otherwise,
    /// for the caller to translate the whole part again. The other types, and their encodings,
    /// are `previous`'s.
    pub(super) fn with_endpoints(
        previous: &Part,
        endpoints: Vec<ClusterLoadAssignment>,
    ) -> Option<Self> {
        let before = &previous.resources.endpoints;
        let same_clusters = before.len() == endpoints.len()
            && before
                .iter()
                .zip(&endpoints)
                .all(|(a, b)| a.cluster_name == b.cluster_name);
        if !same_clusters {
            return None;
        }
        let encoded = &previous.encoded;
        let encoded = EncodedResources {
            clusters: encoded.clusters.clone(),
            endpoints: reuse(&endpoints, before, &encoded.endpoints),
            listeners: encoded.listeners.clone(),
            routes: encoded.routes.clone(),
        };
        let kept = &previous.resources;
        let resources = Resources {
            clusters: kept.clusters.clone(),
            endpoints,
            listeners: kept.listeners.clone(),
            routes: kept.routes.clone(),
        };
        Some(Self { resources, encoded })
    }

    /// Whether the encoding of `kind` is the very same as `other`'s: it was not made again.
    pub fn shares_encoding(&self, other: &Part, kind: ResourceType) -> bool {
        let (a, b) = (self.encoded.of_type(kind), other.encoded.of_type(kind));
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

// === impl EncodedResources ===

impl EncodedResources {
    /// Encodes every resource of `resources`.
    pub fn new(resources: &Resources) -> Self {
        Self {
            clusters: encode(&resources.clusters),
            endpoints: encode(&resources.endpoints),
            listeners: encode(&resources.listeners),
            routes: encode(&resources.routes),
        }
    }

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
        match resource_type {
            ResourceType::Cluster => &self.clusters,
            ResourceType::ClusterLoadAssignment => &self.endpoints,
            ResourceType::Listener => &self.listeners,
            ResourceType::RouteConfiguration => &self.routes,
            // Certificates are not served over xDS yet.
            ResourceType::Secret => &[],
        }
    }
}

fn encode<T: Clone + Into<Resource>>(items: &[T]) -> Vec<Arc<Encoded>> {
    Encoded::all(items.iter().cloned().map(Into::into))
}

/// The encodings of `items`, taking each from `encoded` (the encodings of `before`) where the
/// item at its position is equal there: one changed load assignment among thousands is encoded
/// and hashed alone, and the others keep the very encodings the proxies were sent.
fn reuse<T: Clone + PartialEq + Into<Resource>>(
    items: &[T],
    before: &[T],
    encoded: &[Arc<Encoded>],
) -> Vec<Arc<Encoded>> {
    if before.len() != encoded.len() {
        return encode(items);
    }
    items
        .iter()
        .enumerate()
        .map(|(at, item)| match (before.get(at), encoded.get(at)) {
            (Some(old), Some(encoding)) if old == item => Arc::clone(encoding),
            _ => Encoded::new(item.clone().into()),
        })
        .collect()
}
