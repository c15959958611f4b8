//! The seam between the xDS server and translation.
//!
//! The server knows the protocol, not the mesh: it asks a [`Generator`] for a proxy's resources
//! of one type, and learns from a `watch` of [`Changed`] when to ask again.

use std::{collections::BTreeSet, sync::Arc};

use envoy_types::pb::{envoy::config::core::v3::Node, google::protobuf::value::Kind};
use mesh_xds::ResourceType;

use super::{encoded::Encoded, list::ResourceList, scope::Scope};

/// What a proxy subscribed to for one resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// Every resource of the type (how Envoy asks for listeners and clusters).
    Wildcard,
    /// These names only (routes and endpoints; any type in an on-demand sidecar).
    Names(BTreeSet<String>),
}

/// Builds the resources of one type for one proxy.
pub trait Generator: Send + Sync + 'static {
    /// The resources of `resource_type` that `node` should have, restricted to `subscription`,
    /// encoded. For a state-of-the-world listener or cluster response this must be every
    /// resource, since one left out is deleted by the proxy.
    fn generate(
        &self,
        node: &Node,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Result<Vec<Arc<Encoded>>, GenerateError>;

    /// The same, as one list, which may hold more than `subscription` names (streams cut it
    /// down themselves). A generator that serves many proxies from one list returns that list,
    /// so that what streams work out from it is worked out once (see [`ResourceList`]).
    fn generate_list(
        &self,
        node: &Node,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Result<ResourceList, GenerateError> {
        self.generate(node, resource_type, subscription)
            .map(ResourceList::new)
    }
}

/// Why a generator produced nothing; the proxy keeps what it had.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate {resource_type:?} for {node_id}: {reason}")]
pub struct GenerateError {
    /// The proxy.
    pub node_id: String,
    /// The type asked for.
    pub resource_type: ResourceType,
    /// What went wrong, for the operator.
    pub reason: String,
}

/// A config change, published on a `watch` channel by whatever builds the model.
///
/// `version` must grow by one per change: a receiver that sees it jump has missed a change
/// (the `watch` keeps only the last) and, not knowing its scope, pushes to every proxy.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Changed {
    /// The config version; 0 is the initial config, before any change.
    pub version: u64,
    /// Which proxies the change can affect, and which of their resource types.
    pub scope: Scope,
}

// === impl Subscription ===

impl Subscription {
    /// Whether `name` is subscribed.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Subscription::Wildcard => true,
            Subscription::Names(names) => names.contains(name),
        }
    }
}

// === impl Changed ===

impl Changed {
    /// The scope of everything between `previous` and `self`: this change's scope if it is
    /// the next one, every proxy if some were missed.
    pub fn scope_since(&self, previous: u64) -> Scope {
        if self.version == previous.wrapping_add(1) {
            self.scope.clone()
        } else {
            Scope::All
        }
    }
}

/// The namespace of a proxy: its `NAMESPACE` metadata as Istio's injector sets it, or the
/// fourth field of an Istio-style id (`sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local`).
pub fn node_namespace(node: &Node) -> Option<String> {
    let from_metadata = node
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.fields.get("NAMESPACE"))
        .and_then(|value| match &value.kind {
            Some(Kind::StringValue(namespace)) if !namespace.is_empty() => Some(namespace.clone()),
            _ => None,
        });
    from_metadata.or_else(|| {
        let domain = node.id.split('~').nth(3)?;
        let namespace = domain.split('.').next()?;
        (!namespace.is_empty()).then(|| namespace.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::google::protobuf::{Struct, Value};

    fn namespaces(names: &[&str]) -> Scope {
        Scope::Namespaces(names.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn a_missed_change_widens_the_scope() {
        let change = Changed {
            version: 3,
            scope: namespaces(&["a"]),
        };
        assert_eq!(change.scope_since(2), namespaces(&["a"]));
        assert_eq!(change.scope_since(1), Scope::All);
    }

    #[test]
    fn namespace_from_metadata_then_id() {
        let mut node = Node {
            id: "sidecar~198.18.0.5~reviews-v1.bookinfo~bookinfo.svc.cluster.local".into(),
            ..Node::default()
        };
        assert_eq!(node_namespace(&node).as_deref(), Some("bookinfo"));
        node.metadata = Some(Struct {
            fields: [(
                "NAMESPACE".to_string(),
                Value {
                    kind: Some(Kind::StringValue("other".into())),
                },
            )]
            .into(),
        });
        assert_eq!(node_namespace(&node).as_deref(), Some("other"));
        assert_eq!(node_namespace(&Node::default()), None);
    }
}
