//! Resources encoded once for the wire, each with its content version.
//!
//! Encoding a resource and hashing it into a version (through its descriptor, for a canonical
//! form) costs far more than sending it. A translation is therefore encoded once, and every
//! response that carries one of its resources — each type, each push, each re-request, and
//! every proxy the translation is shared with — clones the handle, not the work.

use std::sync::Arc;

use envoy_types::pb::google::protobuf::Any;
use mesh_xds::{Resource, ResourceType};

use super::hash;

/// One resource as it goes on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    name: String,
    kind: ResourceType,
    any: Any,
    version: String,
}

// === impl Encoded ===

impl Encoded {
    /// Encodes `resource` and computes its version.
    pub fn new(resource: Resource) -> Arc<Encoded> {
        let name = resource.name().to_owned();
        let kind = resource.resource_type();
        let any = resource.into_any();
        let version = hash::resource_version(&any);
        Arc::new(Encoded {
            name,
            kind,
            any,
            version,
        })
    }

    /// Encodes each of `resources`.
    pub fn all(resources: impl IntoIterator<Item = Resource>) -> Vec<Arc<Encoded>> {
        resources.into_iter().map(Encoded::new).collect()
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resource's type.
    pub fn kind(&self) -> ResourceType {
        self.kind
    }

    /// The resource packed for a discovery response.
    pub fn any(&self) -> &Any {
        &self.any
    }

    /// The version of its content: equal content, equal version, in any process.
    pub fn version(&self) -> &str {
        &self.version
    }
}
