//! What both ADS variants keep for one stream: the proxy asking, a state per resource type,
//! and the count of responses that numbers the nonces. The variants differ only in what they
//! keep per type and how they read requests and build responses.

use std::collections::BTreeMap;

use envoy_types::pb::{envoy::config::core::v3::Node, google::protobuf::Struct};
use mesh_common::well_known::node_metadata;
use mesh_xds::ResourceType;

use super::{
    generator::Subscription,
    protocol::{Progress, ProtocolError},
};

/// What a variant keeps about one resource type of a stream.
pub trait TypeState {
    /// The resources of the type the proxy subscribed to.
    fn subscription(&self) -> Subscription;
    /// The ACK/NACK progress of the type.
    fn progress(&self) -> &Progress;
    /// The same, to record in.
    fn progress_mut(&mut self) -> &mut Progress;
}

/// The node metadata keys anything after a stream's first request reads (translation, push
/// scopes, secrets): the rest of a node (Envoy's extension list and build, an agent's metadata)
/// runs to kilobytes per proxy and is not kept.
pub const KEPT_METADATA: [&str; 5] = [
    node_metadata::NAMESPACE,
    node_metadata::LABELS,
    node_metadata::INSTANCE_IPS,
    node_metadata::SERVICE_ACCOUNT,
    node_metadata::WORKLOAD_NAME,
];

/// The per-stream state both variants share.
#[derive(Debug)]
pub struct ConnectionState<T> {
    /// What is read of the proxy's node: its id and [`KEPT_METADATA`].
    node: Option<Node>,
    types: BTreeMap<ResourceType, T>,
    responses: u64,
}

// === impl ConnectionState ===

impl<T> Default for ConnectionState<T> {
    fn default() -> Self {
        Self {
            node: None,
            types: BTreeMap::new(),
            responses: 0,
        }
    }
}

impl<T: TypeState> ConnectionState<T> {
    /// Takes the proxy from a stream's first request (which must name it) and reads which type
    /// a request is about: `None` for a type mesh.rs does not serve.
    pub(crate) fn begin(
        &mut self,
        node: Option<&Node>,
        type_url: &str,
    ) -> Result<Option<ResourceType>, ProtocolError> {
        if self.node.is_none() {
            self.node = Some(node.map(kept_node).ok_or(ProtocolError::MissingNode)?);
        }
        Ok(ResourceType::from_type_url(type_url))
    }

    /// The proxy, once its first request arrived: its id and [`KEPT_METADATA`].
    pub fn node(&self) -> Option<&Node> {
        self.node.as_ref()
    }

    /// What the proxy subscribed to for `kind`, if it asked for it.
    pub fn subscription(&self, kind: ResourceType) -> Option<Subscription> {
        self.types.get(&kind).map(T::subscription)
    }

    /// The types the proxy asked for, in the order to push them (CDS, EDS, LDS, RDS, SDS).
    pub fn subscribed(&self) -> Vec<ResourceType> {
        ResourceType::ALL
            .into_iter()
            .filter(|kind| self.types.contains_key(kind))
            .collect()
    }

    /// The ACK/NACK progress of `kind`.
    pub fn progress(&self, kind: ResourceType) -> Option<&Progress> {
        self.types.get(&kind).map(T::progress)
    }

    /// The variant's state of each type asked for.
    pub(crate) fn types(&mut self) -> &mut BTreeMap<ResourceType, T> {
        &mut self.types
    }

    /// Records a response of `kind` at `version` about to be sent, and gives its nonce:
    /// responses are numbered across types.
    pub(crate) fn sent(&mut self, kind: ResourceType, version: String) -> String {
        self.responses += 1;
        let nonce = self.responses.to_string();
        if let Some(state) = self.types.get_mut(&kind) {
            state.progress_mut().sent(nonce.clone(), version);
        }
        nonce
    }
}

/// What a stream keeps of `node`: its id and the metadata of [`KEPT_METADATA`].
pub fn kept_node(node: &Node) -> Node {
    let metadata = node.metadata.as_ref().map(|metadata| Struct {
        fields: (metadata.fields.iter())
            .filter(|(key, _)| KEPT_METADATA.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    });
    Node {
        id: node.id.clone(),
        metadata,
        ..Node::default()
    }
}

#[cfg(test)]
mod tests;
