use std::collections::BTreeMap;

use envoy_types::pb::{
    envoy::config::listener::v3::filter::ConfigType, google::protobuf::Duration,
};
use pretty_assertions::assert_eq;
use prost::Message;
use serde_json::{Value, json};

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::{Protocol, test_support},
    translate::{EgressScope, ProxyKind},
};

const MONGODB: &str = "mongodb.default.svc.cluster.local";

fn snapshot(spec: Value) -> Snapshot {
    let vs = test_support::istio("VirtualService", "default", "mongodb", spec);
    test_support::valid_snapshot(&[vs], &MeshConfig::default())
}

fn proxy() -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.21".to_string()],
        pod: "reviews-v1-1".to_string(),
        namespace: "default".to_string(),
        labels: BTreeMap::from([("app".to_string(), "reviews".to_string())]),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

/// The chains of `hostname` on `port` as SNI names and TCP proxies.
fn chains(
    spec: Value,
    port: u16,
    hostname: &str,
    protocol: Protocol,
) -> Vec<(Vec<String>, TcpProxy)> {
    sidecar_chains(
        &snapshot(spec),
        &proxy(),
        &EgressScope::unrestricted(),
        port,
        (hostname, protocol),
    )
    .into_iter()
    .map(|(names, filter)| {
        assert_eq!(filter.name, "envoy.filters.network.tcp_proxy");
        let Some(ConfigType::TypedConfig(any)) = filter.config_type else {
            panic!("{filter:?}")
        };
        (names, TcpProxy::decode(any.value.as_slice()).unwrap())
    })
    .collect()
}

/// The TCP proxy a sidecar uses for mongodb on `port`.
fn proxied(tcp: Value, port: u16) -> Option<TcpProxy> {
    let spec = json!({"hosts": ["mongodb"], "tcp": tcp});
    let mut chains = chains(spec, port, MONGODB, Protocol::Mongo);
    assert!(chains.len() <= 1, "{chains:?}");
    let (names, proxy) = chains.pop()?;
    assert_eq!(names, Vec::<String>::new());
    Some(proxy)
}

fn cluster(subset: &str) -> String {
    format!("outbound|27017|{subset}|{MONGODB}")
}

#[test]
fn one_destination_is_its_cluster() {
    assert_eq!(
        proxied(
            json!([{"route": [{"destination": {"host": "mongodb", "subset": "v2"}}]}]),
            27017
        ),
        Some(single(&cluster("v2")))
    );
}

#[test]
fn several_destinations_are_weighted() {
    let route = json!([{"route": [
        {"destination": {"host": "mongodb", "subset": "v1"}, "weight": 80},
        {"destination": {"host": "mongodb", "subset": "v2"}, "weight": 20},
    ]}]);
    assert_eq!(
        proxied(route, 27017),
        Some(TcpProxy {
            stat_prefix: "outbound_0.0.0.0_27017".to_string(),
            cluster_specifier: Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
                clusters: vec![
                    ClusterWeight {
                        name: cluster("v1"),
                        weight: 80,
                        ..ClusterWeight::default()
                    },
                    ClusterWeight {
                        name: cluster("v2"),
                        weight: 20,
                        ..ClusterWeight::default()
                    },
                ],
            })),
            idle_timeout: Some(HOUR),
            ..TcpProxy::default()
        })
    );
}

#[test]
fn the_first_route_whose_match_admits_the_proxy_wins() {
    let routes = json!([
        {"match": [{"port": 27018}],
         "route": [{"destination": {"host": "mongodb", "subset": "other-port"}}]},
        {"match": [{"sourceLabels": {"app": "ratings"}}],
         "route": [{"destination": {"host": "mongodb", "subset": "ratings"}}]},
        {"match": [{"sourceNamespace": "prod"}],
         "route": [{"destination": {"host": "mongodb", "subset": "prod"}}]},
        {"match": [{"gateways": ["istio-system/edge"]}],
         "route": [{"destination": {"host": "mongodb", "subset": "edge"}}]},
        {"match": [{"destinationSubnets": ["10.0.0.0/8"]}],
         "route": [{"destination": {"host": "mongodb", "subset": "subnet"}}]},
        {"match": [{"port": 27017, "sourceLabels": {"app": "reviews"},
                    "sourceNamespace": "default", "gateways": ["mesh"]}],
         "route": [{"destination": {"host": "mongodb", "subset": "reviews"}}]},
    ]);
    assert_eq!(
        proxied(routes, 27017).and_then(|p| p.cluster_specifier),
        Some(ClusterSpecifier::Cluster(cluster("reviews")))
    );
}

#[test]
fn no_applicable_route_leaves_the_service_to_itself() {
    let routes = json!([{"match": [{"port": 27018}],
                         "route": [{"destination": {"host": "mongodb", "subset": "v2"}}]}]);
    assert_eq!(proxied(routes, 27017), Some(single(&cluster(""))));
    let spec =
        json!({"hosts": ["mongodb"], "tcp": [{"route": [{"destination": {"host": "mongodb"}}]}]});
    let other_host = chains(
        spec,
        27017,
        "ratings.default.svc.cluster.local",
        Protocol::Tcp,
    );
    assert_eq!(
        other_host,
        vec![(
            vec![],
            single("outbound|27017||ratings.default.svc.cluster.local")
        )]
    );
}

/// Istio's idle timeout of a TCP proxy whose DestinationRule sets none.
const HOUR: Duration = Duration {
    seconds: 3600,
    nanos: 0,
};

/// A TCP proxy to one cluster, with no DestinationRule.
fn single(cluster: &str) -> TcpProxy {
    TcpProxy {
        stat_prefix: cluster.to_string(),
        cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_string())),
        idle_timeout: Some(HOUR),
        ..TcpProxy::default()
    }
}

#[test]
fn a_tls_port_takes_a_chain_per_sni_match() {
    let spec = json!({
        "hosts": ["*.example.com"],
        "tls": [
            {"match": [{"sniHosts": ["b.example.com", "a.example.com"]},
                       {"sniHosts": ["c.example.com"], "sourceLabels": {"app": "ratings"}}],
             "route": [{"destination": {"host": "ab.example.com"}}]},
            {"match": [{"sniHosts": ["a.example.com", "b.example.com"]}],
             "route": [{"destination": {"host": "shadowed.example.com"}}]},
            {"match": [{"sniHosts": ["*.example.com"]}],
             "route": [{"destination": {"host": "rest.example.com"}}]},
        ],
        "tcp": [{"route": [{"destination": {"host": "tcp.example.com"}}]}],
    });
    assert_eq!(
        chains(spec.clone(), 443, "api.example.com", Protocol::Tls),
        vec![
            (
                vec!["a.example.com".to_string(), "b.example.com".to_string()],
                single("outbound|443||ab.example.com")
            ),
            (
                vec!["*.example.com".to_string()],
                single("outbound|443||rest.example.com")
            ),
        ]
    );
    // Any other protocol takes the `tcp` routes.
    assert_eq!(
        chains(spec, 443, "api.example.com", Protocol::Tcp),
        vec![(vec![], single("outbound|443||tcp.example.com"))]
    );
}

mod timeouts;
