use std::collections::BTreeMap;

use mesh_common::api::HttpSettings;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::{
    mesh_config,
    model::{Objects, Snapshot},
    translate::{Proxy, ProxyKind, sidecar},
};

fn pool(policy: Option<H2UpgradePolicy>) -> ConnectionPoolSettings {
    ConnectionPoolSettings {
        http: Some(HttpSettings {
            h2_upgrade_policy: policy,
            ..HttpSettings::default()
        }),
        ..ConnectionPoolSettings::default()
    }
}

fn mesh(policy: mesh_config::H2UpgradePolicy) -> MeshConfig {
    MeshConfig {
        h2_upgrade_policy: policy,
        ..MeshConfig::default()
    }
}

/// Istio's table: the rule's setting wins; `DEFAULT` (or none) takes the mesh's, which only
/// upgrades declared HTTP/1 ports; HTTP/2, gRPC and non-HTTP ports are never upgraded.
#[test]
fn h2_upgrade_follows_istio_s_table() {
    use H2UpgradePolicy::{Default, DoNotUpgrade, Upgrade};
    use mesh_config::H2UpgradePolicy as Mesh;
    let protocols = [
        Protocol::Http,
        Protocol::GrpcWeb,
        Protocol::Auto,
        Protocol::Tcp,
        Protocol::Tls,
        Protocol::Http2,
        Protocol::Grpc,
    ];
    let upgraded = |rule: Option<H2UpgradePolicy>, mesh_policy: Mesh| -> Vec<Protocol> {
        let pool = pool(rule);
        protocols
            .into_iter()
            .filter(|p| h2_upgrade(*p, Some(&pool), &mesh(mesh_policy)))
            .collect()
    };
    let http1 = vec![Protocol::Http, Protocol::GrpcWeb];
    let sniffed_too = vec![Protocol::Http, Protocol::GrpcWeb, Protocol::Auto];
    assert_eq!(upgraded(None, Mesh::DoNotUpgrade), []);
    assert_eq!(upgraded(Some(Default), Mesh::DoNotUpgrade), []);
    assert_eq!(upgraded(None, Mesh::Upgrade), http1);
    assert_eq!(upgraded(Some(Default), Mesh::Upgrade), http1);
    assert_eq!(upgraded(Some(DoNotUpgrade), Mesh::Upgrade), []);
    assert_eq!(upgraded(Some(Upgrade), Mesh::DoNotUpgrade), sniffed_too);
    assert_eq!(upgraded(Some(Upgrade), Mesh::Upgrade), sniffed_too);
    assert!(!h2_upgrade(Protocol::Http, None, &mesh(Mesh::DoNotUpgrade)));
    assert!(h2_upgrade(Protocol::Http, None, &mesh(Mesh::Upgrade)));
}

/// Which of web's clusters speak HTTP/2, for a mesh config and a rule's connection pool.
fn http2_clusters(
    mesh_policy: mesh_config::H2UpgradePolicy,
    rule: serde_json::Value,
) -> Vec<String> {
    let mut objects = Objects::default();
    let host = "web.shop.svc.cluster.local";
    let resources = [
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "hosts": [host], "location": "MESH_INTERNAL", "resolution": "STATIC",
                "ports": [
                    {"number": 8080, "name": "http", "protocol": "HTTP"},
                    {"number": 9090, "name": "tcp", "protocol": "TCP"},
                    {"number": 7070, "name": "grpc", "protocol": "GRPC"},
                ],
                "endpoints": [{"address": "198.18.0.30", "labels": {"version": "v1"}}],
            },
        }),
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": rule,
        }),
    ];
    for resource in &resources {
        objects.upsert_resource(mesh_common::api::decode(resource).unwrap().resource);
    }
    let snapshot = Snapshot::build(&objects, &mesh(mesh_policy));
    assert_eq!(snapshot.config().rejected(), &[]);
    let proxy = Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.10".to_string()],
        pod: "client-1".to_string(),
        namespace: "front".to_string(),
        labels: BTreeMap::new(),
        service_account: String::new(),
        workload_name: String::new(),
    };
    let out = sidecar(&snapshot, &proxy);
    let mut names: Vec<String> = out
        .clusters
        .iter()
        .filter(|c| c.name.ends_with(host))
        .filter(|c| c.typed_extension_protocol_options == http2_options())
        .map(|c| c.name.trim_end_matches(host).to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_rule_overrides_the_mesh_h2_upgrade_policy_per_subset_and_port() {
    use mesh_config::H2UpgradePolicy::{DoNotUpgrade, Upgrade};
    let host = "web.shop.svc.cluster.local";
    let upgrade = json!({"http": {"h2UpgradePolicy": "UPGRADE"}});
    let keep = json!({"http": {"h2UpgradePolicy": "DO_NOT_UPGRADE"}});
    let rule = json!({
        "host": host,
        "trafficPolicy": {"connectionPool": upgrade},
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"},
             "trafficPolicy": {"connectionPool": keep}},
        ],
    });
    // gRPC ports are HTTP/2 anyway; the TCP port never is.
    assert_eq!(
        http2_clusters(DoNotUpgrade, rule),
        ["outbound|7070|v1|", "outbound|7070||", "outbound|8080||"]
    );
    let mesh_wide = json!({"host": host, "subsets": [{"name": "v1", "labels": {"version": "v1"}}]});
    assert_eq!(
        http2_clusters(Upgrade, mesh_wide),
        [
            "outbound|7070|v1|",
            "outbound|7070||",
            "outbound|8080|v1|",
            "outbound|8080||"
        ]
    );
    let opt_out = json!({"host": host, "trafficPolicy": {"connectionPool": keep}});
    assert_eq!(http2_clusters(Upgrade, opt_out), ["outbound|7070||"]);
}
