use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::model::{ExportTo, Health, Locality, Location, Resolution, WorkloadKind, WorkloadRef};

fn service(hostname: &str, declared_by: DeclaredBy) -> Service {
    Service {
        hostname: hostname.to_string(),
        namespace: "shop".to_string(),
        declared_by,
        addresses: Vec::new(),
        ports: Vec::new(),
        location: Location::MeshInternal,
        resolution: Resolution::ClientSideLb,
        export_to: ExportTo::All,
        subject_alt_names: Vec::new(),
        endpoints: Vec::new(),
    }
}

fn endpoint(labels: &[(&str, &str)], workload: Option<&str>) -> Endpoint {
    Endpoint {
        address: "198.18.0.30".to_string(),
        ports: BTreeMap::new(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        identity: None,
        locality: Locality::default(),
        weight: 1,
        health: Health::Healthy,
        workload: workload.map(|name| WorkloadRef {
            kind: WorkloadKind::Pod,
            namespace: "shop".to_string(),
            name: format!("{name}-5d9c7b6f4-x2x8q"),
            workload_name: name.to_string(),
        }),
        node_name: None,
    }
}

fn json(metadata: &Metadata) -> serde_json::Value {
    mesh_xds::json::to_json(metadata).unwrap()
}

#[test]
fn services_name_their_host_name_and_namespace() {
    let web = service(
        "web.shop.svc.cluster.local",
        DeclaredBy::Service("web".into()),
    );
    let api = service(
        "api.example.com",
        DeclaredBy::ServiceEntry("external".into()),
    );
    assert_eq!(
        json(&services([&web, &api])),
        json!({"filter_metadata": {"istio": {"services": [
            {"host": "web.shop.svc.cluster.local", "name": "web", "namespace": "shop"},
            {"host": "api.example.com", "name": "api.example.com", "namespace": "shop"},
        ]}}})
    );
}

#[test]
fn workload_reads_the_canonical_labels_first() {
    let labels = [
        (CANONICAL_NAME, "storefront"),
        (CANONICAL_REVISION, "canary"),
        ("app", "web"),
        ("version", "v2"),
    ];
    let metadata = workload(&endpoint(&labels, Some("web-v2"))).unwrap();
    assert_eq!(
        json(&metadata),
        json!({"filter_metadata": {"istio": {
            "workload": "web-v2;shop;storefront;canary;Kubernetes"}}})
    );
}

#[test]
fn workload_falls_back_to_app_version_and_the_workload_name() {
    let value = |labels: &[(&str, &str)]| {
        let metadata = workload(&endpoint(labels, Some("web-v2"))).unwrap();
        json(&metadata)["filter_metadata"]["istio"]["workload"].clone()
    };
    assert_eq!(
        value(&[("app", "web"), ("version", "v2")]),
        "web-v2;shop;web;v2;Kubernetes"
    );
    assert_eq!(
        value(&[("app.kubernetes.io/name", "web"), ("app", "ignored")]),
        "web-v2;shop;web;latest;Kubernetes"
    );
    assert_eq!(value(&[]), "web-v2;shop;web-v2;latest;Kubernetes");
}

#[test]
fn an_address_without_a_workload_has_no_workload_metadata() {
    assert_eq!(workload(&endpoint(&[("app", "web")], None)), None);
}
