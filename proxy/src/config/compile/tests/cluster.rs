//! Clusters: discovery, balancing, protocol, circuit breakers, and the refusals.

use std::{net::SocketAddr, time::Duration};

use super::{cluster, eds_cluster, error_text};
use crate::{
    balance::Algorithm,
    config::{Discovery, UpstreamProtocol, compile_cluster},
    upstream::Thresholds,
};

#[test]
fn clusters() {
    let eds = compile_cluster(&eds_cluster("outbound|80||a", "")).unwrap();
    assert!(
        matches!(&eds.discovery, Discovery::Eds { service_name } if service_name == "outbound|80||a")
    );
    assert_eq!(eds.connect_timeout, Duration::from_secs(5));
    assert_eq!(eds.algorithm, Algorithm::RoundRobin);
    assert_eq!(eds.protocol, UpstreamProtocol::Http1);

    let h2 = compile_cluster(&cluster(
        r#"
name: h2
type: EDS
lb_policy: LEAST_REQUEST
connect_timeout: 1.5s
eds_cluster_config: { service_name: svc }
circuit_breakers: { thresholds: [ { max_connections: 4294967295, max_retries: 4294967295 } ] }
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config: { http2_protocol_options: {} }
"#,
    ))
    .unwrap();
    assert!(matches!(&h2.discovery, Discovery::Eds { service_name } if service_name == "svc"));
    assert_eq!(h2.algorithm, Algorithm::LeastRequest);
    assert_eq!(h2.connect_timeout, Duration::from_millis(1500));
    assert_eq!(h2.protocol, UpstreamProtocol::Http2);
    // Unset thresholds keep Envoy's defaults; Istio's "unlimited" is u32::MAX.
    assert_eq!(
        h2.breaker.thresholds(),
        Thresholds {
            max_connections: u32::MAX,
            max_pending_requests: 1024,
            max_requests: 1024,
            max_retries: u32::MAX,
        }
    );
    assert_eq!(eds.breaker.thresholds(), Thresholds::default());

    let downstream = compile_cluster(&cluster(
        "name: d\ntype: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\ntyped_extension_protocol_options: { envoy.extensions.upstreams.http.v3.HttpProtocolOptions: { '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, use_downstream_protocol_config: {} } }",
    ))
    .unwrap();
    assert!(matches!(downstream.discovery, Discovery::OriginalDst));
    assert_eq!(downstream.protocol, UpstreamProtocol::UseDownstream);

    let legacy = compile_cluster(&cluster(
        "name: l\nlb_policy: RANDOM\nhttp2_protocol_options: {}",
    ))
    .unwrap();
    // Istio turns the panic threshold off with outlier detection.
    compile_cluster(&cluster(
        "name: p\ncommon_lb_config: { healthy_panic_threshold: { value: 0 } }",
    ))
    .unwrap();
    assert_eq!(legacy.protocol, UpstreamProtocol::Http2);
    assert_eq!(legacy.algorithm, Algorithm::Random);

    let Discovery::Static(set) = compile_cluster(&cluster(
        "name: s\ntype: STATIC\nload_assignment: { cluster_name: s, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9080 } } } } ] } ] }",
    ))
    .unwrap()
    .discovery
    else {
        panic!("not static");
    };
    assert_eq!(
        set.endpoints()[0].address,
        "127.0.0.1:9080".parse::<SocketAddr>().unwrap()
    );

    let dns = compile_cluster(&cluster(
        "name: d\ntype: LOGICAL_DNS\nload_assignment: { cluster_name: d, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: istiod.mesh-system.svc, port_value: 15010 } } } } ] } ] }",
    ))
    .unwrap();
    assert!(
        matches!(&dns.discovery, Discovery::LogicalDns { host, port: 15010 } if host == "istiod.mesh-system.svc")
    );
}

#[test]
fn cluster_refusals_name_the_field() {
    let cases = [
        (
            "name: c\ncommon_lb_config: { healthy_panic_threshold: { value: 101 } }",
            "Cluster \"c\": common_lb_config.healthy_panic_threshold: 101 is outside 0..=100",
        ),
        (
            "name: c\ncommon_lb_config: { healthy_panic_threshold: { value: 0 }, ignore_new_hosts_until_first_hc: true }",
            "Cluster \"c\": common_lb_config: only healthy_panic_threshold is supported by mesh-proxy",
        ),
        (
            "name: c\ntype: STATIC\nlb_policy: CLUSTER_PROVIDED",
            "Cluster \"c\": lb_policy: not supported by mesh-proxy",
        ),
        (
            "name: c\nlb_policy: LOAD_BALANCING_POLICY_CONFIG",
            "Cluster \"c\": lb_policy: not supported by mesh-proxy",
        ),
        (
            "name: c\ncircuit_breakers: { thresholds: [ { priority: HIGH, max_requests: 100 } ] }",
            "Cluster \"c\": circuit_breakers.thresholds[0].priority: only the DEFAULT priority is supported by mesh-proxy",
        ),
        (
            "name: c\ncircuit_breakers: { thresholds: [ { max_requests: 1 }, { max_retries: 1 } ] }",
            "Cluster \"c\": circuit_breakers.thresholds[1]: a second thresholds entry for the DEFAULT priority",
        ),
        (
            "name: c\ncircuit_breakers: { per_host_thresholds: [ { max_connections: 1 } ] }",
            "Cluster \"c\": circuit_breakers.per_host_thresholds: not supported by mesh-proxy",
        ),
        (
            "name: c\ntype: LOGICAL_DNS\nload_assignment: { cluster_name: c }",
            "Cluster \"c\": load_assignment.endpoints: a DNS cluster needs at least one endpoint",
        ),
        (
            "name: c\ntype: STATIC\nload_assignment: { cluster_name: c, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: example.com, port_value: 1 } } } } ] } ] }",
            "Cluster \"c\": load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: \"example.com\" is not an IP address",
        ),
        (
            "name: c\ntyped_extension_protocol_options: { envoy.extensions.upstreams.http.v3.HttpProtocolOptions: { '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: { http3_protocol_options: {} } } }",
            "Cluster \"c\": typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.explicit_http_config.http3_protocol_options: not supported by mesh-proxy",
        ),
        (
            "name: c\ntype: EDS\neds_cluster_config: { eds_config: { path_config_source: { path: /x } } }",
            "Cluster \"c\": eds_cluster_config.eds_config: only `ads: {}` is supported by mesh-proxy",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(
            error_text(compile_cluster(&cluster(yaml))),
            expected,
            "{yaml}"
        );
    }
}
