use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::{
    mesh_config::{DEFAULT_ROOT_NAMESPACE, MeshConfig},
    model::Objects,
    translate::{Proxy, ProxyKind},
};

fn sidecar(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Sidecar",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

fn snapshot(resources: &[Value]) -> Snapshot {
    let mut objects = Objects::default();
    for resource in resources {
        let decoded = mesh_common::api::decode(resource).unwrap();
        assert_eq!(decoded.unknown_fields, vec![]);
        objects.upsert_resource(decoded.resource);
    }
    let snapshot = Snapshot::build(&objects, &MeshConfig::default());
    assert_eq!(snapshot.config().rejected(), &[]);
    snapshot
}

fn proxy(namespace: &str, app: &str) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.21".to_string()],
        pod: format!("{app}-1"),
        namespace: namespace.to_string(),
        labels: BTreeMap::from([("app".to_string(), app.to_string())]),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

fn hosts(hosts: &[&str]) -> Value {
    json!({"egress": [{"hosts": hosts}]})
}

const RATINGS: &str = "ratings.default.svc.cluster.local";
const REVIEWS: &str = "reviews.default.svc.cluster.local";
const DETAILS: &str = "details.default.svc.cluster.local";

#[test]
fn without_a_sidecar_everything_is_admitted() {
    let scope = EgressScope::for_proxy(&snapshot(&[]), &proxy("default", "reviews"));
    assert_eq!(scope, EgressScope::unrestricted());
    assert!(scope.admits_service("prod", "anything.example.com", 1));
}

#[test]
fn the_selecting_sidecar_wins_then_the_namespace_s_then_the_root_s() {
    let snapshot = snapshot(&[
        sidecar(
            DEFAULT_ROOT_NAMESPACE,
            "mesh",
            hosts(&["*/details.default.svc.cluster.local"]),
        ),
        sidecar(
            DEFAULT_ROOT_NAMESPACE,
            "selects-everywhere",
            json!({"workloadSelector": {"labels": {"app": "reviews"}},
                   "egress": [{"hosts": ["*/*"]}]}),
        ),
        sidecar(
            "default",
            "default",
            hosts(&["./reviews.default.svc.cluster.local"]),
        ),
        sidecar(
            "default",
            "for-reviews",
            json!({"workloadSelector": {"labels": {"app": "reviews"}},
                   "egress": [{"hosts": ["./ratings.default.svc.cluster.local"]}]}),
        ),
    ]);
    let admitted = |namespace: &str, app: &str| -> Vec<&str> {
        let scope = EgressScope::for_proxy(&snapshot, &proxy(namespace, app));
        [RATINGS, REVIEWS, DETAILS]
            .into_iter()
            .filter(|h| scope.admits_service("default", h, 9080))
            .collect()
    };
    assert_eq!(admitted("default", "reviews"), vec![RATINGS]);
    assert_eq!(admitted("default", "productpage"), vec![REVIEWS]);
    // A selector in the root namespace selects nothing elsewhere.
    assert_eq!(admitted("prod", "reviews"), vec![DETAILS]);
}

#[test]
fn host_namespaces_as_istio_reads_them() {
    let snapshot = snapshot(&[sidecar(
        "default",
        "default",
        hosts(&[
            "./reviews.default.svc.cluster.local",
            "prod/*",
            "*/*.example.com",
            "~/ratings.default.svc.cluster.local",
        ]),
    )]);
    let scope = EgressScope::for_proxy(&snapshot, &proxy("default", "x"));
    let cases = [
        ("default", REVIEWS, true),
        ("staging", REVIEWS, false),
        ("prod", "db.prod.svc.cluster.local", true),
        ("staging", "db.staging.svc.cluster.local", false),
        ("staging", "api.example.com", true),
        ("staging", "example.com", false),
        ("default", RATINGS, false),
    ];
    for (namespace, host, expected) in cases {
        assert_eq!(
            scope.admits_service(namespace, host, 9080),
            expected,
            "{namespace}/{host}"
        );
    }
}

#[test]
fn a_port_s_own_listener_decides_for_that_port() {
    let snapshot = snapshot(&[sidecar(
        "default",
        "default",
        json!({"egress": [
            {"port": {"number": 27017, "protocol": "TCP", "name": "mongo"},
             "hosts": ["./mongodb.default.svc.cluster.local"]},
            {"hosts": ["./*"]},
        ]}),
    )]);
    let scope = EgressScope::for_proxy(&snapshot, &proxy("default", "x"));
    let mongo = "mongodb.default.svc.cluster.local";
    assert!(scope.admits_service("default", mongo, 27017));
    assert!(!scope.admits_service("default", REVIEWS, 27017));
    assert!(scope.admits_service("default", REVIEWS, 9080));
    assert!(scope.admits_service("default", mongo, 9080));

    let only_port = snapshot_with_only_port();
    let scope = EgressScope::for_proxy(&only_port, &proxy("default", "x"));
    assert!(scope.admits_service("default", "mongodb.default.svc.cluster.local", 27017));
    assert!(!scope.admits_service("default", "mongodb.default.svc.cluster.local", 9080));
}

fn snapshot_with_only_port() -> Snapshot {
    snapshot(&[sidecar(
        "default",
        "default",
        json!({"egress": [
            {"port": {"number": 27017, "protocol": "TCP", "name": "mongo"},
             "hosts": ["./*"]},
        ]}),
    )])
}

#[test]
fn virtual_services_overlap_either_way() {
    let snapshot = snapshot(&[sidecar(
        "default",
        "default",
        hosts(&["*/api.example.com", "prod/*.internal"]),
    )]);
    let scope = EgressScope::for_proxy(&snapshot, &proxy("default", "x"));
    let admits = |namespace: &str, host: &str| {
        scope.admits_virtual_service(namespace, &[host.to_string()], 80)
    };
    assert!(admits("default", "*.example.com"));
    assert!(admits("default", "api.example.com"));
    assert!(!admits("default", "web.example.com"));
    assert!(admits("prod", "db.internal"));
    assert!(admits("prod", "*.internal"));
    assert!(!admits("default", "db.internal"));
}

#[test]
fn a_sidecar_without_egress_narrows_nothing() {
    let snapshot = snapshot(&[sidecar(
        "default",
        "default",
        json!({"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
    )]);
    let scope = EgressScope::for_proxy(&snapshot, &proxy("default", "x"));
    assert!(scope.admits_service("prod", "db.prod.svc.cluster.local", 5432));
    assert!(scope.admits_virtual_service("prod", &["db.prod.svc.cluster.local".to_string()], 5432));
}
