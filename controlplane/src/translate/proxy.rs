//! The proxy asking for configuration, as its Envoy `Node` describes it: what it is, where it
//! runs and which workload it fronts. Translation depends on nothing else about the requester.

pub(crate) mod trace;

use std::collections::BTreeMap;

use envoy_types::pb::{
    envoy::config::core::v3::Node,
    google::protobuf::{Struct, Value, value::Kind},
};
use mesh_common::well_known::node_metadata;

/// What the proxy does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// Next to one workload: captures its inbound and outbound traffic.
    Sidecar,
    /// A standalone gateway.
    Router,
}

/// The requesting proxy's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    /// The workload's IP addresses; the first is the one in the node id.
    pub ips: Vec<String>,
    /// The pod name from the node id (`reviews-v1-7d8f`).
    pub pod: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// Empty when the proxy did not say.
    pub service_account: String,
    /// Empty when the proxy did not say.
    pub workload_name: String,
}

/// Why a `Node` does not describe a proxy mesh.rs can configure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "node id {0:?} is not `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`"
    )]
    MalformedId(String),
    #[error("node id {id:?}: unknown proxy type {kind:?} (expected sidecar or router)")]
    UnknownKind { id: String, kind: String },
    #[error("node metadata {key} must be {expected}")]
    BadMetadata {
        key: &'static str,
        expected: &'static str,
    },
    #[error("node metadata NAMESPACE {metadata:?} differs from the node id's {id:?}")]
    NamespaceMismatch { metadata: String, id: String },
}

// === impl Proxy ===

impl Proxy {
    /// Reads `node.id` (`sidecar~10.0.0.1~reviews-v1-7d8f.default~default.svc.cluster.local`)
    /// and the metadata keys of [`node_metadata`]. The id decides the namespace; metadata that
    /// contradicts it is refused rather than trusted.
    pub fn from_node(node: &Node) -> Result<Proxy, ProxyError> {
        let malformed = || ProxyError::MalformedId(node.id.clone());
        let parts: Vec<&str> = node.id.split('~').collect();
        let [kind, ip, pod_ns, domain] = parts.as_slice() else {
            return Err(malformed());
        };
        let kind = match *kind {
            "sidecar" => ProxyKind::Sidecar,
            "router" => ProxyKind::Router,
            other => {
                return Err(ProxyError::UnknownKind {
                    id: node.id.clone(),
                    kind: other.to_string(),
                });
            }
        };
        let (pod, namespace) = pod_ns.rsplit_once('.').ok_or_else(malformed)?;
        if ip.is_empty() || pod.is_empty() || namespace.is_empty() {
            return Err(malformed());
        }
        if domain.split('.').next() != Some(namespace) {
            return Err(malformed());
        }
        let empty = Struct::default();
        let metadata = node.metadata.as_ref().unwrap_or(&empty);
        let field = |key: &'static str| metadata.fields.get(key).and_then(|v| v.kind.as_ref());
        let string = |key: &'static str| -> Result<Option<String>, ProxyError> {
            match field(key) {
                None => Ok(None),
                Some(Kind::StringValue(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ProxyError::BadMetadata {
                    key,
                    expected: "a string",
                }),
            }
        };
        if let Some(declared) = string(node_metadata::NAMESPACE)?
            && declared != namespace
        {
            return Err(ProxyError::NamespaceMismatch {
                metadata: declared,
                id: namespace.to_string(),
            });
        }
        let mut ips = vec![ip.to_string()];
        for extra in string(node_metadata::INSTANCE_IPS)?
            .iter()
            .flat_map(|s| s.split(','))
        {
            let extra = extra.trim();
            if !extra.is_empty() && !ips.iter().any(|i| i == extra) {
                ips.push(extra.to_string());
            }
        }
        let labels = match field(node_metadata::LABELS) {
            None => BTreeMap::new(),
            Some(Kind::StructValue(labels)) => labels
                .fields
                .iter()
                .map(|(k, v)| match &v.kind {
                    Some(Kind::StringValue(s)) => Ok((k.clone(), s.clone())),
                    _ => Err(bad_labels()),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad_labels()),
        };
        Ok(Proxy {
            kind,
            ips,
            pod: pod.to_string(),
            namespace: namespace.to_string(),
            labels,
            service_account: string(node_metadata::SERVICE_ACCOUNT)?.unwrap_or_default(),
            workload_name: string(node_metadata::WORKLOAD_NAME)?.unwrap_or_default(),
        })
    }

    /// True when `address` is one of the workload's.
    pub fn has_ip(&self, address: &str) -> bool {
        self.ips.iter().any(|ip| ip == address)
    }
}

fn bad_labels() -> ProxyError {
    ProxyError::BadMetadata {
        key: node_metadata::LABELS,
        expected: "a struct of strings",
    }
}

/// A string metadata value, for building nodes in tests and tools.
pub fn string_value(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_string())),
    }
}

#[cfg(test)]
mod tests;
