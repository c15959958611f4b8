//! The `destination_service*` labels of a cluster, worked out once when the cluster is
//! compiled: from the cluster's Istio metadata, else from Istio's cluster name, else unknown.

use envoy_types::pb::{
    envoy::config::{cluster::v3::Cluster, core::v3::Metadata},
    google::protobuf::{Struct, Value, value::Kind},
};

use super::workload::UNKNOWN;

/// The `filter_metadata` key Istio's control plane writes cluster facts under.
const ISTIO: &str = "istio";

/// The service a cluster sends to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DestinationService {
    /// `destination_service`: the service's host name.
    pub host: String,
    /// `destination_service_name`.
    pub name: String,
    /// `destination_service_namespace`.
    pub namespace: String,
}

// === impl DestinationService ===

impl DestinationService {
    /// A cluster nothing is known about.
    pub fn unknown() -> Self {
        Self {
            host: UNKNOWN.to_owned(),
            name: UNKNOWN.to_owned(),
            namespace: UNKNOWN.to_owned(),
        }
    }

    /// The service of `cluster`: `metadata.filter_metadata["istio"]["services"][0]` (`host`,
    /// `name`, `namespace`), else the name `outbound|<port>|<subset>|<fqdn>` (the host is the
    /// fqdn, its first label the name and its second the namespace), else unknown.
    pub fn of_cluster(cluster: &Cluster) -> Self {
        cluster
            .metadata
            .as_ref()
            .and_then(from_metadata)
            .or_else(|| from_cluster_name(&cluster.name))
            .unwrap_or_else(Self::unknown)
    }
}

impl Default for DestinationService {
    fn default() -> Self {
        Self::unknown()
    }
}

fn from_metadata(metadata: &Metadata) -> Option<DestinationService> {
    let istio = metadata.filter_metadata.get(ISTIO)?;
    let Some(Kind::ListValue(services)) = &istio.fields.get("services")?.kind else {
        return None;
    };
    let Some(Kind::StructValue(service)) = &services.values.first()?.kind else {
        return None;
    };
    let host = string(service, "host")?;
    let (name, namespace) = host_parts(host);
    Some(DestinationService {
        host: host.to_owned(),
        name: string(service, "name").or(name)?.to_owned(),
        namespace: string(service, "namespace")
            .or(namespace)
            .unwrap_or(UNKNOWN)
            .to_owned(),
    })
}

fn from_cluster_name(name: &str) -> Option<DestinationService> {
    let mut parts = name.split('|');
    let (Some("outbound"), Some(_port), Some(_subset), Some(host), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let (Some(name), namespace) = host_parts(host) else {
        return None;
    };
    Some(DestinationService {
        host: host.to_owned(),
        name: name.to_owned(),
        namespace: namespace.unwrap_or(UNKNOWN).to_owned(),
    })
}

/// The first two labels of a host name: `reviews.default.svc.cluster.local` → `reviews`,
/// `default`.
fn host_parts(host: &str) -> (Option<&str>, Option<&str>) {
    let mut labels = host.split('.').filter(|l| !l.is_empty());
    (labels.next(), labels.next())
}

fn string<'a>(from: &'a Struct, key: &str) -> Option<&'a str> {
    match from.fields.get(key) {
        Some(Value {
            kind: Some(Kind::StringValue(text)),
        }) if !text.is_empty() => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
