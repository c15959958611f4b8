//! Istio's metadata on clusters and endpoints, under the `istio` filter-metadata key, in the
//! shapes istiod gives them: proxies read them for the `destination_service*` and
//! `destination_workload*` labels of their metrics, even when the destination has no sidecar to
//! tell them.

use std::collections::{BTreeMap, HashMap};

use envoy_types::pb::{
    envoy::config::core::v3::Metadata,
    google::protobuf::{ListValue, Struct, Value, value::Kind},
};

use super::string_value;
use crate::model::{DeclaredBy, Endpoint, Service};

/// The filter-metadata key Istio's telemetry reads.
pub const ISTIO: &str = "istio";
/// The label that names a workload's canonical service.
pub const CANONICAL_NAME: &str = "service.istio.io/canonical-name";
/// The label that names a workload's canonical revision.
pub const CANONICAL_REVISION: &str = "service.istio.io/canonical-revision";
/// The cluster id of every workload: mesh.rs serves one cluster, named as Istio names its
/// default one.
pub const CLUSTER_ID: &str = "Kubernetes";

/// `{"istio": {"services": [{"host", "name", "namespace"}, …]}}`, a cluster's services, in the
/// order given.
pub fn services<'a>(services: impl IntoIterator<Item = &'a Service>) -> Metadata {
    let list = services.into_iter().map(|service| {
        let name = match &service.declared_by {
            DeclaredBy::Service(name) => name.as_str(),
            // Istio names a ServiceEntry's service after its host.
            DeclaredBy::ServiceEntry(_) => service.hostname.as_str(),
        };
        struct_value(
            [
                ("host", string_value(&service.hostname)),
                ("name", string_value(name)),
                ("namespace", string_value(&service.namespace)),
            ]
            .into_iter(),
        )
    });
    let list = Value {
        kind: Some(Kind::ListValue(ListValue {
            values: list.collect(),
        })),
    };
    istio([("services", list)].into_iter())
}

/// `{"istio": {"workload": "<workload>;<namespace>;<canonical service>;<canonical
/// revision>;Kubernetes"}}` for an endpoint of a pod or a WorkloadEntry; `None` for an address
/// no workload holds.
///
/// istiod leaves the revision empty when it is `latest`; it is written out here, which readers
/// of the field take to mean the same.
pub fn workload(endpoint: &Endpoint) -> Option<Metadata> {
    let workload = endpoint.workload.as_ref()?;
    let (service, revision) = canonical(&endpoint.labels, &workload.workload_name);
    let value = format!(
        "{};{};{service};{revision};{CLUSTER_ID}",
        workload.workload_name, workload.namespace
    );
    Some(istio([("workload", string_value(&value))].into_iter()))
}

/// A workload's canonical service and revision, as Istio reads them from its labels: the
/// canonical-name label, else `app.kubernetes.io/name`, else `app`, else the workload's name;
/// the canonical-revision label, else `app.kubernetes.io/version`, else `version`, else
/// `latest`.
pub fn canonical<'a>(
    labels: &'a BTreeMap<String, String>,
    workload: &'a str,
) -> (&'a str, &'a str) {
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| labels.get(*key).filter(|v| !v.is_empty()))
            .map(String::as_str)
    };
    let service = first(&[CANONICAL_NAME, "app.kubernetes.io/name", "app"]).unwrap_or(workload);
    let revision =
        first(&[CANONICAL_REVISION, "app.kubernetes.io/version", "version"]).unwrap_or("latest");
    (service, revision)
}

fn istio<'a>(fields: impl Iterator<Item = (&'a str, Value)>) -> Metadata {
    let fields = fields.map(|(k, v)| (k.to_string(), v)).collect();
    Metadata {
        filter_metadata: HashMap::from([(ISTIO.to_string(), Struct { fields })]),
        ..Metadata::default()
    }
}

fn struct_value<'a>(fields: impl Iterator<Item = (&'a str, Value)>) -> Value {
    Value {
        kind: Some(Kind::StructValue(Struct {
            fields: fields.map(|(k, v)| (k.to_string(), v)).collect(),
        })),
    }
}

#[cfg(test)]
mod tests;
