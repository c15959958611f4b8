use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::{
    mesh_config::{DEFAULT_ROOT_NAMESPACE, MeshConfig},
    model::test_support::{istio, valid_snapshot},
    translate::{Proxy, ProxyKind},
};

fn sidecar(namespace: &str, name: &str, spec: Value) -> Value {
    istio("Sidecar", namespace, name, spec)
}

fn snapshot(resources: &[Value]) -> Snapshot {
    valid_snapshot(resources, &MeshConfig::default())
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

fn fallback_with(mesh: &MeshConfig, policy: Value) -> Fallback {
    let sidecar = sidecar(
        "default",
        "policy",
        json!({"outboundTrafficPolicy": policy}),
    );
    let snapshot = valid_snapshot(&[sidecar], mesh);
    EgressScope::for_proxy(&snapshot, &proxy("default", "reviews"))
        .fallback()
        .clone()
}

#[test]
fn the_sidecar_s_outbound_traffic_policy_overrides_the_mesh_s() {
    let allow_any = MeshConfig::default();
    let registry_only = MeshConfig {
        outbound_traffic_policy: crate::mesh_config::OutboundTrafficPolicy {
            mode: crate::mesh_config::OutboundTrafficMode::RegistryOnly,
        },
        ..MeshConfig::default()
    };
    let cases = [
        (
            &allow_any,
            json!({"mode": "REGISTRY_ONLY"}),
            Fallback::Blackhole,
        ),
        (
            &registry_only,
            json!({"mode": "ALLOW_ANY"}),
            Fallback::Passthrough,
        ),
        // A policy without a mode leaves the mesh's.
        (&registry_only, json!({}), Fallback::Blackhole),
        (&allow_any, json!({}), Fallback::Passthrough),
        (
            &registry_only,
            json!({"mode": "ALLOW_ANY",
                   "egressProxy": {"host": "squid.egress.svc.cluster.local", "subset": "v1",
                                   "port": {"number": 3128}}}),
            Fallback::EgressProxy("outbound|3128|v1|squid.egress.svc.cluster.local".to_string()),
        ),
    ];
    for (mesh, policy, expected) in cases {
        assert_eq!(fallback_with(mesh, policy.clone()), expected, "{policy}");
    }
    assert_eq!(Fallback::Passthrough.cluster(), "PassthroughCluster");
    assert_eq!(Fallback::Blackhole.cluster(), "BlackHoleCluster");
}

#[test]
fn an_egress_proxy_without_its_cluster_fails_closed() {
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    let spec = json!({"outboundTrafficPolicy": {"mode": "ALLOW_ANY",
        "egressProxy": {"host": "squid.egress.svc.cluster.local", "port": {"number": 3128}}}});
    let snapshot = snapshot(&[sidecar("default", "policy", spec)]);
    let proxy = proxy("default", "reviews");
    let squid = "outbound|3128||squid.egress.svc.cluster.local";
    let named = |name: &str| Cluster {
        name: name.to_string(),
        ..Cluster::default()
    };
    let mut scope = EgressScope::for_proxy(&snapshot, &proxy);
    assert_eq!(
        scope.confirm_fallback(&[named("PassthroughCluster"), named(squid)]),
        None
    );
    assert_eq!(scope.fallback().cluster(), squid);
    assert_eq!(
        scope.confirm_fallback(&[named("PassthroughCluster")]),
        Some(format!(
            "outboundTrafficPolicy.egressProxy: no cluster {squid} is configured for this proxy \
             (the host must be a service it sees on that port, and the subset one of its \
             DestinationRule's); traffic to unknown hosts is refused instead"
        ))
    );
    assert_eq!(scope.fallback(), &Fallback::Blackhole);
}
