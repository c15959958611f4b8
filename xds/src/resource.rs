//! The five xDS resource kinds mesh.rs serves, and their packing into `Any`.
//!
//! The control plane packs what it generates into `DiscoveryResponse`s and the proxy unpacks
//! them; both go through [`Resource`], so a type URL is matched to its message in one place.

use envoy_types::{
    pb::{
        envoy::{
            config::{
                cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
                route::v3::RouteConfiguration,
            },
            extensions::transport_sockets::tls::v3::Secret,
        },
        google::protobuf::Any,
    },
    util::pack_any,
};
use mesh_common::xds;
use prost::Message;

/// An xDS resource kind, named by its type URL on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// LDS.
    Listener,
    /// RDS.
    RouteConfiguration,
    /// CDS.
    Cluster,
    /// EDS.
    ClusterLoadAssignment,
    /// SDS.
    Secret,
}

/// One xDS resource of any of the kinds mesh.rs serves. Boxed: the messages run to kilobytes
/// and differ in size, and resources travel in long vectors.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// A listener.
    Listener(Box<Listener>),
    /// A route configuration.
    RouteConfiguration(Box<RouteConfiguration>),
    /// A cluster.
    Cluster(Box<Cluster>),
    /// The endpoints of a cluster.
    ClusterLoadAssignment(Box<ClusterLoadAssignment>),
    /// A certificate, key or trust bundle.
    Secret(Box<Secret>),
}

/// An `Any` that is not a resource mesh.rs understands.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// The type URL names no kind mesh.rs serves.
    #[error("unsupported xDS resource type {0:?}")]
    UnsupportedType(String),
    /// The bytes are not a message of the type the URL names.
    #[error("malformed {type_url} resource: {source}")]
    Decode {
        /// The resource's type URL.
        type_url: &'static str,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
}

// === impl ResourceType ===

impl ResourceType {
    /// Every kind, in the order Envoy asks for them (see `mesh_common::xds::PUSH_ORDER`).
    pub const ALL: [ResourceType; 5] = [
        ResourceType::Cluster,
        ResourceType::ClusterLoadAssignment,
        ResourceType::Listener,
        ResourceType::RouteConfiguration,
        ResourceType::Secret,
    ];

    /// The type URL, like `type.googleapis.com/envoy.config.cluster.v3.Cluster`.
    pub const fn type_url(self) -> &'static str {
        match self {
            ResourceType::Listener => xds::LISTENER,
            ResourceType::RouteConfiguration => xds::ROUTE_CONFIGURATION,
            ResourceType::Cluster => xds::CLUSTER,
            ResourceType::ClusterLoadAssignment => xds::CLUSTER_LOAD_ASSIGNMENT,
            ResourceType::Secret => xds::SECRET,
        }
    }

    /// The kind a type URL names, if mesh.rs serves it.
    pub fn from_type_url(type_url: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.type_url() == type_url)
    }

    /// The short name (`Cluster`), for logs and metric labels.
    pub fn short_name(self) -> &'static str {
        xds::short_name(self.type_url())
    }
}

// === impl Resource ===

impl Resource {
    /// Decodes an `Any` from a `DiscoveryResponse`.
    pub fn decode_any(any: &Any) -> Result<Self, ResourceError> {
        let kind = ResourceType::from_type_url(&any.type_url)
            .ok_or_else(|| ResourceError::UnsupportedType(any.type_url.clone()))?;
        let bytes = any.value.as_slice();
        let decoded = match kind {
            ResourceType::Listener => Listener::decode(bytes).map(Resource::from),
            ResourceType::RouteConfiguration => {
                RouteConfiguration::decode(bytes).map(Resource::from)
            }
            ResourceType::Cluster => Cluster::decode(bytes).map(Resource::from),
            ResourceType::ClusterLoadAssignment => {
                ClusterLoadAssignment::decode(bytes).map(Resource::from)
            }
            ResourceType::Secret => Secret::decode(bytes).map(Resource::from),
        };
        decoded.map_err(|source| ResourceError::Decode {
            type_url: kind.type_url(),
            source,
        })
    }

    /// Packs the resource into an `Any` for a `DiscoveryResponse`.
    pub fn into_any(self) -> Any {
        match self {
            Resource::Listener(r) => pack_any(*r),
            Resource::RouteConfiguration(r) => pack_any(*r),
            Resource::Cluster(r) => pack_any(*r),
            Resource::ClusterLoadAssignment(r) => pack_any(*r),
            Resource::Secret(r) => pack_any(*r),
        }
    }

    /// The resource's kind.
    pub fn resource_type(&self) -> ResourceType {
        match self {
            Resource::Listener(_) => ResourceType::Listener,
            Resource::RouteConfiguration(_) => ResourceType::RouteConfiguration,
            Resource::Cluster(_) => ResourceType::Cluster,
            Resource::ClusterLoadAssignment(_) => ResourceType::ClusterLoadAssignment,
            Resource::Secret(_) => ResourceType::Secret,
        }
    }

    /// The name xDS subscribes to it by: a cluster load assignment goes by its cluster's name.
    pub fn name(&self) -> &str {
        match self {
            Resource::Listener(r) => &r.name,
            Resource::RouteConfiguration(r) => &r.name,
            Resource::Cluster(r) => &r.name,
            Resource::ClusterLoadAssignment(r) => &r.cluster_name,
            Resource::Secret(r) => &r.name,
        }
    }
}

impl From<Listener> for Resource {
    fn from(resource: Listener) -> Self {
        Resource::Listener(Box::new(resource))
    }
}

impl From<RouteConfiguration> for Resource {
    fn from(resource: RouteConfiguration) -> Self {
        Resource::RouteConfiguration(Box::new(resource))
    }
}

impl From<Cluster> for Resource {
    fn from(resource: Cluster) -> Self {
        Resource::Cluster(Box::new(resource))
    }
}

impl From<ClusterLoadAssignment> for Resource {
    fn from(resource: ClusterLoadAssignment) -> Self {
        Resource::ClusterLoadAssignment(Box::new(resource))
    }
}

impl From<Secret> for Resource {
    fn from(resource: Secret) -> Self {
        Resource::Secret(Box::new(resource))
    }
}

impl From<Resource> for Any {
    fn from(resource: Resource) -> Self {
        resource.into_any()
    }
}

impl TryFrom<&Any> for Resource {
    type Error = ResourceError;

    fn try_from(any: &Any) -> Result<Self, Self::Error> {
        Resource::decode_any(any)
    }
}

#[cfg(test)]
mod tests;
