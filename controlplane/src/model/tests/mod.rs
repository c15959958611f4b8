//! Snapshots built from inline YAML, as the Kubernetes watches and the config directory would
//! deliver the objects; no cluster, no I/O.

mod config;
mod diff;
mod fixtures;
mod hosts;
mod kubernetes;
mod service_entry;

use std::collections::BTreeMap;

use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{api::decode, identity::SpiffeId};

use super::{Endpoint, Health, Locality, Objects, Snapshot, WorkloadKind, WorkloadRef};
use crate::mesh_config::MeshConfig;

/// Reads a multi-document YAML stream into objects: Kubernetes kinds into k8s-openapi's types,
/// everything else through mesh-common's decoder, as the stores do.
fn objects(yaml: &str) -> Objects {
    let mut objects = Objects::default();
    add(&mut objects, yaml);
    objects
}

fn add(objects: &mut Objects, yaml: &str) {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(yaml).unwrap_or_else(|e| panic!("fixture parses: {e}"));
    for document in documents {
        let kind = document["kind"].as_str().unwrap_or_default().to_string();
        let changed = match kind.as_str() {
            "Namespace" => objects.upsert(from_value::<Namespace>(document)),
            "Service" => objects.upsert(from_value::<Service>(document)),
            "EndpointSlice" => objects.upsert(from_value::<EndpointSlice>(document)),
            "Pod" => objects.upsert(from_value::<Pod>(document)),
            _ => {
                let decoded = decode(&document).unwrap_or_else(|e| panic!("{kind} decodes: {e}"));
                assert_eq!(decoded.unknown_fields, vec![], "the fixture has a typo");
                objects.upsert_resource(decoded.resource)
            }
        };
        assert!(changed, "the fixture holds one {kind} twice");
    }
}

fn from_value<T: serde::de::DeserializeOwned>(document: serde_json::Value) -> T {
    serde_json::from_value(document).unwrap_or_else(|e| panic!("fixture object reads: {e}"))
}

fn build(yaml: &str) -> Snapshot {
    Snapshot::build(&objects(yaml), &MeshConfig::default())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A healthy endpoint of a pod in `default`, serving port 9080 on 9080, as bookinfo's are.
fn pod_endpoint(address: &str, pod: &str, labels_: &[(&str, &str)], account: &str) -> Endpoint {
    Endpoint {
        address: address.to_string(),
        ports: [(9080, 9080)].into_iter().collect(),
        labels: labels(labels_),
        identity: Some(SpiffeId::in_default_domain("default", account).unwrap()),
        locality: Locality {
            zone: "zone-a".to_string(),
            ..Locality::default()
        },
        weight: 1,
        health: Health::Healthy,
        workload: Some(WorkloadRef {
            kind: WorkloadKind::Pod,
            namespace: "default".to_string(),
            name: pod.to_string(),
            workload_name: pod.to_string(),
        }),
        node_name: Some("node-1".to_string()),
    }
}
