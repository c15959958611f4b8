//! Resources encoded once for the wire, each with its content version.
//!
//! Encoding a resource and hashing it into a version (through its descriptor, for a canonical
//! form) costs far more than sending it. A translation is therefore encoded once, and every
//! response that carries one of its resources — each type, each push, each re-request, and
//! every proxy the translation is shared with — clones the handle, not the work. The encoding
//! itself is shared too: responses are framed around it (see [`wire`](super::wire)), not copied
//! into each proxy's message.
//!
//! Equal encodings are one allocation, whoever made them ([`interner`]): groups of sidecars in
//! namespaces that see the same clusters, and a translation made again that comes out equal,
//! hold the same handle.

use std::sync::Arc;

use bytes::Bytes;
use envoy_types::pb::google::protobuf::Any;
use mesh_xds::{Resource, ResourceType};
use prost::Message as _;

use super::{hash, names};

mod interner;

/// One resource as it goes on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// Interned: shared with every stream that subscribes to it.
    name: Arc<str>,
    kind: ResourceType,
    /// The resource packed in an `Any`, encoded.
    wire: Bytes,
    version: String,
}

// === impl Encoded ===

impl Encoded {
    /// Encodes `resource` and computes its version: the encoding already made of an equal
    /// resource (same type, name and version) if one is still held anywhere.
    pub fn new(resource: Resource) -> Arc<Encoded> {
        let name = names::intern(resource.name());
        let kind = resource.resource_type();
        let any = resource.into_any();
        let content = hash::resource_hash(&any);
        if let Some(found) = interner::find(kind, &name, content) {
            return found;
        }
        interner::insert(
            content,
            Arc::new(Encoded {
                name,
                kind,
                wire: Bytes::from(any.encode_to_vec()),
                version: hash::version_text(content),
            }),
        )
    }

    /// Encodes each of `resources`.
    pub fn all(resources: impl IntoIterator<Item = Resource>) -> Vec<Arc<Encoded>> {
        resources.into_iter().map(Encoded::new).collect()
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resource's name, interned.
    pub fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The resource's type.
    pub fn kind(&self) -> ResourceType {
        self.kind
    }

    /// The resource packed for a discovery response, as a message of its own (a copy).
    pub fn any(&self) -> Any {
        // Encoded from an `Any` above: it decodes.
        Any::decode(self.wire.clone()).unwrap_or_default()
    }

    /// The encoding of [`Encoded::any`], shared by every response that carries it.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The version of its content: equal content, equal version, in any process.
    pub fn version(&self) -> &str {
        &self.version
    }
}
