//! A workload as Istio's metric labels name it: the `source_*` or `destination_*` half of a
//! label set, read from a proxy's node metadata (our own, from the bootstrap) or from the
//! metadata a peer sent in the exchange headers.

use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use mesh_common::well_known::{labels, node_metadata};

/// The value of a label nobody could tell.
pub const UNKNOWN: &str = "unknown";
/// Istio's cluster id when the proxy is given none.
pub const DEFAULT_CLUSTER: &str = "Kubernetes";
/// Istio's canonical revision when the workload has neither label for it.
pub const DEFAULT_REVISION: &str = "latest";

/// Node metadata keys Istio's proxies send that `mesh_common::well_known` does not list, because
/// only the metadata exchange reads them.
pub mod keys {
    /// The pod's name.
    pub const NAME: &str = "NAME";
    /// The cluster the workload runs in.
    pub const CLUSTER_ID: &str = "CLUSTER_ID";
    /// The workload's owner reference, e.g. `kubernetes://apis/apps/v1/namespaces/default/...`.
    pub const OWNER: &str = "OWNER";
}

/// Workload labels Istio derives its canonical service and revision from.
pub mod canonical {
    /// The canonical service name label.
    pub const NAME: &str = "service.istio.io/canonical-name";
    /// The canonical revision label.
    pub const REVISION: &str = "service.istio.io/canonical-revision";
    /// The recommended Kubernetes label Istio reads when `app` is absent.
    pub const K8S_NAME: &str = "app.kubernetes.io/name";
    /// The recommended Kubernetes label Istio reads when `version` is absent.
    pub const K8S_VERSION: &str = "app.kubernetes.io/version";
}

/// One side of a request or connection, in Istio's label values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workload {
    /// `*_workload`: the Deployment (or other owner) name.
    pub workload: String,
    /// `*_workload_namespace`.
    pub namespace: String,
    /// `*_principal`: the SPIFFE ID, known once connections carry mTLS.
    pub principal: String,
    /// `*_app`: the `app` label.
    pub app: String,
    /// `*_version`: the `version` label.
    pub version: String,
    /// `*_canonical_service`.
    pub canonical_service: String,
    /// `*_canonical_revision`.
    pub canonical_revision: String,
    /// `*_cluster`.
    pub cluster: String,
}

// === impl Workload ===

impl Workload {
    /// A peer that sent no (or unreadable) metadata: every label `unknown`.
    pub fn unknown() -> Self {
        Self {
            workload: UNKNOWN.to_owned(),
            namespace: UNKNOWN.to_owned(),
            principal: UNKNOWN.to_owned(),
            app: UNKNOWN.to_owned(),
            version: UNKNOWN.to_owned(),
            canonical_service: UNKNOWN.to_owned(),
            canonical_revision: UNKNOWN.to_owned(),
            cluster: UNKNOWN.to_owned(),
        }
    }

    /// The workload described by node metadata, with Istio's fallbacks: the canonical service
    /// is the canonical-name label, else `app`, else the workload name; the canonical revision
    /// is the canonical-revision label, else `version`, else `latest`; the cluster is
    /// `CLUSTER_ID`, else `Kubernetes`.
    pub fn from_metadata(metadata: &Struct) -> Self {
        let text = |key: &str| string(metadata.fields.get(key)).filter(|v| !v.is_empty());
        let labels = match metadata.fields.get(node_metadata::LABELS).map(|v| &v.kind) {
            Some(Some(Kind::StructValue(labels))) => Some(labels),
            _ => None,
        };
        let label = |key: &str| {
            labels
                .and_then(|l| string(l.fields.get(key)))
                .filter(|v| !v.is_empty())
        };
        let workload = text(node_metadata::WORKLOAD_NAME);
        let app = label(labels::APP).or_else(|| label(canonical::K8S_NAME));
        let version = label(labels::VERSION).or_else(|| label(canonical::K8S_VERSION));
        let canonical_service = label(canonical::NAME)
            .or(app)
            .or(workload)
            .unwrap_or(UNKNOWN);
        let canonical_revision = label(canonical::REVISION)
            .or(version)
            .unwrap_or(DEFAULT_REVISION);
        Self {
            workload: workload.unwrap_or(UNKNOWN).to_owned(),
            namespace: text(node_metadata::NAMESPACE).unwrap_or(UNKNOWN).to_owned(),
            // Principals come from peer certificates, which plaintext connections do not have.
            principal: UNKNOWN.to_owned(),
            app: app.unwrap_or(UNKNOWN).to_owned(),
            version: version.unwrap_or(UNKNOWN).to_owned(),
            canonical_service: canonical_service.to_owned(),
            canonical_revision: canonical_revision.to_owned(),
            cluster: text(keys::CLUSTER_ID).unwrap_or(DEFAULT_CLUSTER).to_owned(),
        }
    }
}

fn string(value: Option<&Value>) -> Option<&str> {
    match value.map(|v| &v.kind) {
        Some(Some(Kind::StringValue(text))) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
