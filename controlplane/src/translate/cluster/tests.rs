use std::collections::BTreeMap;

use mesh_common::api::HttpSettings;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::{
    mesh_config,
    model::test_support::{istio, valid_snapshot},
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

/// web's host name.
const WEB: &str = "web.shop.svc.cluster.local";

/// web's clusters for a sidecar in `front`: web on `ports`, with `rule` as its
/// DestinationRule, under `mesh`.
pub(super) fn web_sidecar_clusters(
    mesh: &MeshConfig,
    ports: serde_json::Value,
    rule: serde_json::Value,
) -> Vec<Cluster> {
    let entry = json!({
        "hosts": [WEB], "location": "MESH_INTERNAL", "resolution": "STATIC",
        "ports": ports,
        "endpoints": [{"address": "198.18.0.30", "labels": {"version": "v1"}}],
    });
    let resources = [
        istio("ServiceEntry", "shop", "web", entry),
        istio("DestinationRule", "shop", "web", rule),
    ];
    let snapshot = valid_snapshot(&resources, mesh);
    let proxy = Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.10".to_string()],
        pod: "client-1".to_string(),
        namespace: "front".to_string(),
        labels: BTreeMap::new(),
        service_account: String::new(),
        workload_name: String::new(),
    };
    sidecar(&snapshot, &proxy)
        .clusters
        .into_iter()
        .filter(|c| c.name.ends_with(WEB))
        .collect()
}

/// Which of web's clusters speak HTTP/2, for a mesh config and a rule's connection pool.
fn http2_clusters(
    mesh_policy: mesh_config::H2UpgradePolicy,
    rule: serde_json::Value,
) -> Vec<String> {
    let ports = json!([
        {"number": 8080, "name": "http", "protocol": "HTTP"},
        {"number": 9090, "name": "tcp", "protocol": "TCP"},
        {"number": 7070, "name": "grpc", "protocol": "GRPC"},
    ]);
    let mut names: Vec<String> = web_sidecar_clusters(&mesh(mesh_policy), ports, rule)
        .iter()
        .filter(|c| {
            c.typed_extension_protocol_options
                == protocol::typed_options(Protocol::Grpc, None, &MeshConfig::default())
        })
        .map(|c| c.name.trim_end_matches(WEB).to_string())
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

/// web's clusters for a sidecar in `front`, with `rule` as web's DestinationRule.
fn web_clusters(rule: serde_json::Value) -> Vec<Cluster> {
    let ports = json!([{"number": 8080, "name": "http", "protocol": "HTTP"}]);
    web_sidecar_clusters(&MeshConfig::default(), ports, rule)
}

/// Istio's `minHealthPercent` is Envoy's panic threshold, sent (0 unless set) whenever
/// outlier detection is on, and not at all without it.
#[test]
fn min_health_percent_is_the_panic_threshold() {
    let host = "web.shop.svc.cluster.local";
    let threshold = |clusters: Vec<Cluster>| -> Vec<(String, Option<f64>)> {
        clusters
            .into_iter()
            .map(|c| {
                let percent = c
                    .common_lb_config
                    .and_then(|l| l.healthy_panic_threshold)
                    .map(|p| p.value);
                (c.name.trim_end_matches(host).to_string(), percent)
            })
            .collect()
    };
    let rule = json!({
        "host": host,
        "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3, "minHealthPercent": 30}},
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"},
             "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 2}}},
            {"name": "v2", "labels": {"version": "v2"},
             "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}},
        ],
    });
    assert_eq!(
        threshold(web_clusters(rule)),
        [
            ("outbound|8080|v1|".to_string(), Some(0.0)),
            ("outbound|8080|v2|".to_string(), Some(30.0)),
            ("outbound|8080||".to_string(), Some(30.0)),
        ]
    );
    assert_eq!(
        threshold(web_clusters(json!({"host": host}))),
        [("outbound|8080||".to_string(), None)]
    );
}

/// The whole connection pool on one cluster, field by field as Envoy receives it.
#[test]
fn connection_pool_lifetimes_and_keepalive_reach_the_cluster() {
    let host = "web.shop.svc.cluster.local";
    let rule = json!({
        "host": host,
        "trafficPolicy": {"connectionPool": {
            "tcp": {"maxConnectionDuration": "10m", "tcpKeepalive": {"time": "60s", "probes": 4}},
            "http": {"idleTimeout": "15s", "maxRequestsPerConnection": 100, "useClientProtocol": true},
        }},
    });
    let clusters = web_clusters(rule);
    let [cluster] = clusters.as_slice() else {
        panic!("one cluster: {clusters:?}");
    };
    let any = &cluster.typed_extension_protocol_options[protocol::HTTP_PROTOCOL_OPTIONS];
    let unpacked = <envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions as prost::Message>::decode(any.value.as_slice())
        .unwrap();
    let common = unpacked.common_http_protocol_options.unwrap();
    let secs = |s| {
        Some(envoy_types::pb::google::protobuf::Duration {
            seconds: s,
            nanos: 0,
        })
    };
    assert_eq!(
        (
            common.idle_timeout,
            common.max_requests_per_connection.map(|m| m.value),
            common.max_connection_duration
        ),
        (secs(15), Some(100), secs(600))
    );
    assert!(matches!(
        unpacked.upstream_protocol_options,
        Some(envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::UpstreamProtocolOptions::UseDownstreamProtocolConfig(_))
    ));
    let keepalive = cluster
        .upstream_connection_options
        .as_ref()
        .and_then(|o| o.tcp_keepalive.as_ref())
        .unwrap();
    assert_eq!(
        (
            keepalive.keepalive_time.as_ref().map(|v| v.value),
            keepalive.keepalive_probes.as_ref().map(|v| v.value),
            keepalive.keepalive_interval.as_ref().map(|v| v.value)
        ),
        (Some(60), Some(4), None)
    );
}
