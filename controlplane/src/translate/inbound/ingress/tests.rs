use envoy_types::pb::{
    envoy::config::{
        cluster::v3::CircuitBreakers, cluster::v3::circuit_breakers::Thresholds,
        endpoint::v3::ClusterLoadAssignment,
    },
    google::protobuf::{Duration, UInt32Value},
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::translate::ProxyKind;

fn proxy(ips: &[&str]) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: ips.iter().map(|ip| ip.to_string()).collect(),
        pod: "ratings-1".to_string(),
        namespace: "default".to_string(),
        labels: BTreeMap::new(),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

#[test]
fn default_endpoints_are_read_as_istio_reads_them() {
    let v4 = proxy(&["198.18.0.21"]);
    let v6 = proxy(&["fd00::21"]);
    let both = proxy(&["198.18.0.21", "fd00::21"]);
    let at = |address: &str, port| Ok(Target::Static(address.to_string(), port));
    let cases: [(&str, &Proxy, Result<Target, String>); 11] = [
        ("127.0.0.1:8080", &v4, at("127.0.0.1", 8080)),
        ("127.0.0.1:8080", &v6, at("::1", 8080)),
        ("[::1]:8080", &both, at("::1", 8080)),
        ("[::1]:8080", &v4, at("127.0.0.1", 8080)),
        ("0.0.0.0:9080", &both, at("198.18.0.21", 9080)),
        ("0.0.0.0:9080", &v6, at("127.0.0.1", 9080)),
        ("[::]:9080", &both, at("fd00::21", 9080)),
        ("[::]:9080", &v4, at("::1", 9080)),
        ("", &v4, Ok(Target::OriginalDst)),
        (":9080", &v4, Ok(Target::OriginalDst)),
        (
            "unix:///var/run/app.sock",
            &v4,
            Err(
                "defaultEndpoint \"unix:///var/run/app.sock\" is a unix socket, which mesh-proxy \
                 cannot forward to"
                    .to_string(),
            ),
        ),
    ];
    for (endpoint, proxy, expected) in cases {
        assert_eq!(
            target(endpoint, proxy),
            expected,
            "{endpoint} for {:?}",
            proxy.ips
        );
    }
}

#[test]
fn a_connection_pool_shapes_the_cluster_as_a_destination_rule_s_would() {
    let pool: ConnectionPoolSettings = serde_json::from_value(json!({
        "tcp": {"maxConnections": 7, "connectTimeout": "250ms",
                "tcpKeepalive": {"time": "30s"}},
        "http": {"http1MaxPendingRequests": 3, "idleTimeout": "5s",
                 "h2UpgradePolicy": "UPGRADE"},
    }))
    .unwrap();
    let bare = cluster::inbound(9080, &[]);
    assert_eq!(pooled(bare.clone(), Protocol::Http, None), bare);
    let shaped = pooled(bare.clone(), Protocol::Http, Some(&pool));
    // Name, endpoints and discovery stay the inbound cluster's.
    assert_eq!(
        (
            shaped.name.as_str(),
            &shaped.load_assignment,
            &shaped.cluster_discovery_type,
            shaped.lb_policy
        ),
        (
            "inbound|9080||",
            &bare.load_assignment,
            &bare.cluster_discovery_type,
            bare.lb_policy
        )
    );
    assert_eq!(
        shaped.connect_timeout,
        Some(Duration {
            seconds: 0,
            nanos: 250_000_000
        })
    );
    let unlimited = Some(UInt32Value { value: u32::MAX });
    assert_eq!(
        shaped.circuit_breakers,
        Some(CircuitBreakers {
            thresholds: vec![Thresholds {
                max_connections: Some(UInt32Value { value: 7 }),
                max_pending_requests: Some(UInt32Value { value: 3 }),
                max_requests: unlimited,
                max_retries: unlimited,
                track_remaining: true,
                ..Thresholds::default()
            }],
            ..CircuitBreakers::default()
        })
    );
    let keepalive = shaped
        .upstream_connection_options
        .and_then(|o| o.tcp_keepalive)
        .and_then(|k| k.keepalive_time);
    assert_eq!(keepalive, Some(UInt32Value { value: 30 }));
    // The idle timeout, and no upgrade to HTTP/2: explicit HTTP/1.1 is what the options carry.
    let without_upgrade = {
        let mut pool = pool.clone();
        if let Some(http) = pool.http.as_mut() {
            http.h2_upgrade_policy = None;
        }
        let policy = Policy {
            connection_pool: Some(pool),
            ..Policy::default()
        };
        cluster::outbound(
            &placeholder(),
            0,
            "",
            Protocol::Http,
            &policy,
            &MeshConfig::default(),
        )
        .typed_extension_protocol_options
    };
    assert_eq!(shaped.typed_extension_protocol_options, without_upgrade);
    assert_eq!(shaped.typed_extension_protocol_options.len(), 1);
}

#[test]
fn an_original_destination_port_keeps_no_endpoints() {
    let spec: mesh_common::api::SidecarSpec = serde_json::from_value(json!({
        "ingress": [
            {"port": {"number": 9080, "protocol": "HTTP"}},
            {"port": {"number": 9090, "protocol": "UDP"}, "defaultEndpoint": "127.0.0.1:9090"},
            {"port": {"number": 9091, "protocol": "GRPC"}, "defaultEndpoint": "unix:///tmp/s"},
        ],
    }))
    .unwrap();
    let sidecar = AppliedSidecar {
        namespace: "default",
        name: "ratings",
        spec: &spec,
    };
    let ingress = ports(sidecar, &proxy(&["198.18.0.21"]), &BTreeMap::new());
    assert_eq!(ingress.ports, vec![(9080, Protocol::Http)]);
    assert_eq!(ingress.clusters.len(), 1);
    let cluster = &ingress.clusters[0];
    assert_eq!(
        (
            cluster.name.as_str(),
            cluster.cluster_discovery_type.clone(),
            cluster.lb_policy,
            cluster.load_assignment.clone()
        ),
        (
            "inbound|9080||",
            Some(ClusterDiscoveryType::Type(
                DiscoveryType::OriginalDst as i32
            )),
            LbPolicy::ClusterProvided as i32,
            None::<ClusterLoadAssignment>
        )
    );
    assert_eq!(
        ingress.warnings,
        vec![
            "Sidecar default/ratings ingress[1] (port 9090): UDP cannot be captured inbound; not served",
            "Sidecar default/ratings ingress[2] (port 9091): defaultEndpoint \"unix:///tmp/s\" is \
             a unix socket, which mesh-proxy cannot forward to; not served",
        ]
    );
}
