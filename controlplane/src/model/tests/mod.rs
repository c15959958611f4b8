//! Snapshots built from inline YAML, as the Kubernetes watches and the config directory would
//! deliver the objects; no cluster, no I/O.

mod config;
mod diff;
mod fixtures;
mod hosts;
mod kubernetes;
mod service_entry;

use std::collections::BTreeMap;

use mesh_common::identity::SpiffeId;

use super::{
    Endpoint, Health, Locality, WorkloadKind, WorkloadRef,
    test_support::{add, build, objects},
};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A healthy endpoint at `address` with `ports` (service port, endpoint port) and nothing else
/// known of it: no labels, identity, locality, workload or node.
fn endpoint(address: &str, ports: &[(u16, u16)]) -> Endpoint {
    Endpoint {
        address: address.to_string(),
        ports: ports.iter().copied().collect(),
        labels: BTreeMap::new(),
        identity: None,
        locality: Locality::default(),
        weight: 1,
        health: Health::Healthy,
        workload: None,
        node_name: None,
    }
}

/// The workload `name` of `kind` in `namespace`, as an endpoint refers to it.
fn workload(kind: WorkloadKind, namespace: &str, name: &str) -> Option<WorkloadRef> {
    Some(WorkloadRef {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        workload_name: name.to_string(),
    })
}

/// A healthy endpoint of a pod in `default`, serving port 9080 on 9080, as bookinfo's are.
fn pod_endpoint(address: &str, pod: &str, labels_: &[(&str, &str)], account: &str) -> Endpoint {
    Endpoint {
        labels: labels(labels_),
        identity: Some(SpiffeId::in_default_domain("default", account).unwrap()),
        locality: Locality {
            zone: "zone-a".to_string(),
            ..Locality::default()
        },
        workload: workload(WorkloadKind::Pod, "default", pod),
        node_name: Some("node-1".to_string()),
        ..endpoint(address, &[(9080, 9080)])
    }
}
