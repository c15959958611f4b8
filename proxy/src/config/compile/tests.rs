//! Compiling listeners and clusters: what each field becomes, and the exact refusals.

use std::{net::SocketAddr, time::Duration};

use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
};
use mesh_xds::json::from_yaml;

use super::*;
use crate::{
    balance::{Algorithm, OutlierConfig},
    config::{
        CidrRange, Discovery, FilterChainMatch, NetworkFilter, RouteSource, UpstreamProtocol,
    },
    config_error::ConfigError,
    route::{Clusters, Fault, Fraction},
    upstream::Thresholds,
};

mod apply;

const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const TCP: &str = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

fn listener(yaml: &str) -> Listener {
    from_yaml(yaml).expect("test listener parses")
}

fn cluster(yaml: &str) -> Cluster {
    from_yaml(yaml).expect("test cluster parses")
}

/// An HTTP listener on `port` routed by RDS `route`, with `extra` spliced into the HCM.
fn http_listener(name: &str, port: u16, route: &str, extra: &str) -> Listener {
    listener(&format!(
        r#"
name: {name}
address: {{ socket_address: {{ address: 0.0.0.0, port_value: {port} }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM}
          stat_prefix: {name}
          rds: {{ route_config_name: "{route}", config_source: {{ ads: {{}} }} }}
          http_filters:
            - name: envoy.filters.http.router
              typed_config: {{ "@type": {ROUTER} }}
{extra}
"#
    ))
}

fn tcp_listener(name: &str, port: u16, proxy: &str) -> Listener {
    listener(&format!(
        r#"
name: {name}
address: {{ socket_address: {{ address: 0.0.0.0, port_value: {port} }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": {TCP}
          stat_prefix: {name}
{proxy}
"#
    ))
}

fn eds_cluster(name: &str, service: &str) -> Cluster {
    cluster(&format!(
        "name: {name}\ntype: EDS\neds_cluster_config: {{ service_name: \"{service}\", eds_config: {{ ads: {{}} }} }}"
    ))
}

fn assignment(name: &str, ips: &[&str]) -> ClusterLoadAssignment {
    let endpoints: Vec<String> = ips
        .iter()
        .map(|ip| {
            format!(
                "{{ endpoint: {{ address: {{ socket_address: {{ address: {ip}, port_value: 80 }} }} }} }}"
            )
        })
        .collect();
    from_yaml(&format!(
        "cluster_name: \"{name}\"\nendpoints: [ {{ lb_endpoints: [ {} ] }} ]",
        endpoints.join(", ")
    ))
    .expect("test assignment parses")
}

fn error_text(result: Result<impl std::fmt::Debug, ConfigError>) -> String {
    result.expect_err("must be refused").to_string()
}

#[test]
fn inbound_listener_with_inline_routes() {
    let l = listener(&format!(
        r#"
name: virtualInbound
address: {{ socket_address: {{ address: 0.0.0.0, port_value: 15006 }} }}
listener_filters:
  - name: envoy.filters.listener.original_dst
    typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst }}
  - name: envoy.filters.listener.http_inspector
listener_filters_timeout: 2s
filter_chains:
  - name: inbound|9080||
    filter_chain_match:
      destination_port: 9080
      prefix_ranges: [ {{ address_prefix: 10.0.0.0, prefix_len: 8 }} ]
      transport_protocol: raw_buffer
      application_protocols: [ http/1.1, h2c ]
      server_names: [ "*.example.com" ]
    filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM}
          stat_prefix: inbound_9080
          codec_type: HTTP1
          generate_request_id: false
          stream_idle_timeout: 30s
          access_log: [ {{ name: envoy.access_loggers.stdout, typed_config: {{ "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }} }} ]
          route_config:
            name: inbound|9080||
            virtual_hosts: [ {{ name: all, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: "inbound|9080||" }} }} ] }} ]
          http_filters: [ {{ name: envoy.filters.http.router }} ]
"#
    ));
    let config = compile_listener(&l).unwrap();
    assert_eq!(config.name, "virtualInbound");
    assert_eq!(
        config.address,
        "0.0.0.0:15006".parse::<SocketAddr>().unwrap()
    );
    assert!(!config.use_original_dst);
    assert!(config.bind_to_port);
    assert!(config.inspect_protocols);
    assert_eq!(config.detection_timeout, Duration::from_secs(2));
    assert!(config.default_filter_chain.is_none());
    let chain = &config.filter_chains[0];
    assert_eq!(chain.name, "inbound|9080||");
    assert_eq!(
        chain.matcher,
        FilterChainMatch {
            destination_port: Some(9080),
            prefix_ranges: vec![CidrRange {
                address: "10.0.0.0".parse().unwrap(),
                prefix_len: 8
            }],
            server_names: vec!["*.example.com".to_owned()],
            transport_protocol: Some("raw_buffer".to_owned()),
            application_protocols: vec!["http/1.1".to_owned(), "h2c".to_owned()],
        }
    );
    let NetworkFilter::Http(hcm) = &chain.filter else {
        panic!("not HTTP: {:?}", chain.filter);
    };
    assert_eq!(hcm.stat_prefix, "inbound_9080");
    assert!(hcm.access_log);
    assert!(!hcm.generate_request_id);
    assert_eq!(hcm.stream_idle_timeout, Some(Duration::from_secs(30)));
    let RouteSource::Inline(table) = &hcm.routes else {
        panic!("not inline: {:?}", hcm.routes);
    };
    assert_eq!(table.name(), "inbound|9080||");
}

#[test]
fn listener_defaults_and_rds() {
    let mut l = http_listener("0.0.0.0_9080", 9080, "9080", "");
    l.bind_to_port = Some(envoy_types::pb::google::protobuf::BoolValue { value: false });
    let config = compile_listener(&l).unwrap();
    assert!(!config.bind_to_port);
    assert!(!config.inspect_protocols);
    assert_eq!(config.detection_timeout, Duration::from_secs(15));
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    assert!(matches!(&hcm.routes, RouteSource::Rds(name) if name == "9080"));
    assert!(hcm.generate_request_id);
    assert!(!hcm.access_log);
    assert_eq!(hcm.stream_idle_timeout, Some(Duration::from_secs(300)));
    assert_eq!(hcm.fault, None);
    assert!(!hcm.cors);
}

#[test]
fn istios_fault_then_cors_chain_installs_both() {
    let l = listener(&format!(
        "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {{ name: envoy.filters.http.fault, typed_config: {{ '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault }} }}, {{ name: envoy.filters.http.cors, typed_config: {{ '@type': type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }} }}, {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
    ));
    let config = compile_listener(&l).unwrap();
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    assert_eq!(hcm.fault.as_deref(), Some(&Fault::default()));
    assert!(hcm.cors);
}

#[test]
fn the_fault_filter_before_the_router_is_installed_with_its_config() {
    let l = listener(&format!(
        "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {{ name: envoy.filters.http.fault, typed_config: {{ '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {{ http_status: 418, percentage: {{ numerator: 5 }} }} }} }}, {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
    ));
    let config = compile_listener(&l).unwrap();
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    assert_eq!(
        hcm.fault.as_deref(),
        Some(&Fault {
            delay: None,
            abort: Some((
                http::StatusCode::IM_A_TEAPOT,
                Fraction {
                    numerator: 5,
                    denominator: 100
                }
            )),
        })
    );
}

#[test]
fn tcp_proxy_clusters_and_idle_timeout() {
    let single = compile_listener(&tcp_listener("a", 1, "          cluster: backend")).unwrap();
    let NetworkFilter::Tcp(proxy) = &single.filter_chains[0].filter else {
        panic!("not TCP");
    };
    assert_eq!(proxy.idle_timeout, Some(Duration::from_secs(3600)));
    assert!(matches!(&proxy.clusters, Clusters::Single(t) if t.name == "backend"));

    let weighted = compile_listener(&tcp_listener(
        "b",
        2,
        "          idle_timeout: 0s\n          weighted_clusters: { clusters: [ { name: x, weight: 1 }, { name: z, weight: 3 } ] }",
    ))
    .unwrap();
    let NetworkFilter::Tcp(proxy) = &weighted.filter_chains[0].filter else {
        panic!("not TCP");
    };
    assert_eq!(proxy.idle_timeout, None);
    let names: Vec<(&str, u32)> = proxy
        .clusters
        .targets()
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(names, [("x", 1), ("z", 3)]);
    assert_eq!(proxy.clusters.pick(0).name, "x");
    assert_eq!(proxy.clusters.pick(1).name, "z");
}

#[test]
fn listener_refusals_name_the_field() {
    let cases: Vec<(Listener, &str)> = vec![
        (
            http_listener("l", 80, "r", "          xff_num_trusted_hops: 1"),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.xff_num_trusted_hops: not supported by mesh-proxy",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {{ name: envoy.filters.http.lua }}, {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[0]: HTTP filter \"envoy.filters.http.lua\" is not supported by mesh-proxy",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {{ name: envoy.filters.http.cors }}, {{ name: envoy.filters.http.fault }}, {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[1]: HTTP filter \"envoy.filters.http.fault\" is not supported by mesh-proxy",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {{ name: envoy.filters.http.cors, typed_config: {{ '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault }} }}, {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config: expected type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors, got \"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\"",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {{ name: envoy.filters.http.fault, typed_config: {{ '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {{ grpc_status: 14 }} }} }}, {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.abort.grpc_status: not supported by mesh-proxy",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }} }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters: must end with envoy.filters.http.router",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, route_config: {{ name: inline, virtual_hosts: [ {{ name: v, domains: ['*'], routes: [ {{ match: {{ safe_regex: {{ regex: 'a(b' }} }}, route: {{ cluster: c }} }} ] }} ] }}, http_filters: [ {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].match.safe_regex: regex \"a(b\" does not compile: unclosed group",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ transport_socket: {{ name: tls }}, filters: [ {{ name: t, typed_config: {{ '@type': {TCP}, stat_prefix: s, cluster: c }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].transport_socket: not supported by mesh-proxy",
        ),
        (
            listener(
                "name: l\naddress: { socket_address: { address: 0.0.0.0, port_value: 80 } }\nlistener_filters: [ { name: envoy.filters.listener.proxy_protocol } ]\ndefault_filter_chain: { filters: [] }",
            ),
            "Listener \"l\": listener_filters[0].name: listener filter \"envoy.filters.listener.proxy_protocol\" is not supported by mesh-proxy",
        ),
        (
            listener(
                "name: l\naddress: { socket_address: { address: 0.0.0.0, port_value: 80 } }\nfilter_chains: [ { filter_chain_match: { source_ports: [1] }, filters: [] } ]",
            ),
            "Listener \"l\": filter_chains[0].filter_chain_match.source_ports: not supported by mesh-proxy",
        ),
        (
            listener(
                "name: l\naddress: { socket_address: { address: example.com, port_value: 80 } }",
            ),
            "Listener \"l\": address.socket_address.address: \"example.com\" is not an IP address",
        ),
        (
            tcp_listener(
                "l",
                80,
                "          cluster: c\n          hash_policy: [ { source_ip: {} } ]",
            ),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.hash_policy: not supported by mesh-proxy",
        ),
    ];
    for (l, expected) in cases {
        assert_eq!(error_text(compile_listener(&l)), expected);
    }
}

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
    // Istio turns the panic threshold off with outlier detection; mesh-proxy has none.
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
            "name: c\ncommon_lb_config: { healthy_panic_threshold: { value: 50 } }",
            "Cluster \"c\": common_lb_config.healthy_panic_threshold: mesh-proxy has no panic mode: only 0 is supported",
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

/// The compiled `outlier_detection` of an EDS cluster with `fields`.
fn outlier(fields: &str) -> Result<Option<OutlierConfig>, String> {
    compile_cluster(&cluster(&format!(
        "name: c\ntype: EDS\noutlier_detection: {{ {fields} }}"
    )))
    .map(|c| c.outlier.map(|o| o.config().clone()))
    .map_err(|e| e.to_string())
}

#[test]
fn outlier_detection_as_istio_sends_it_with_envoys_defaults() {
    let none = compile_cluster(&eds_cluster("c", "")).unwrap();
    assert!(none.outlier.is_none());
    // A DestinationRule's consecutive5xxErrors 7, interval 5s, baseEjectionTime 1m and
    // maxEjectionPercent 50.
    assert_eq!(
        outlier(
            "enforcing_success_rate: 0, consecutive_5xx: 7, enforcing_consecutive_5xx: 100, \
             interval: 5s, base_ejection_time: 60s, max_ejection_percent: 50"
        ),
        Ok(Some(OutlierConfig {
            consecutive_5xx: 7,
            enforcing_consecutive_5xx: 100,
            interval: Duration::from_secs(5),
            base_ejection_time: Duration::from_secs(60),
            max_ejection_percent: 50,
            ..OutlierConfig::default()
        }))
    );
    assert_eq!(
        outlier("enforcing_success_rate: 0"),
        Ok(Some(OutlierConfig {
            consecutive_5xx: 5,
            enforcing_consecutive_5xx: 100,
            consecutive_gateway_failure: 5,
            enforcing_consecutive_gateway_failure: 0,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_time_jitter: Duration::ZERO,
            max_ejection_percent: 10,
            always_eject_one_host: false,
        }))
    );
    // Unset, max_ejection_time is the longer of 300 s and base_ejection_time.
    assert_eq!(
        outlier("enforcing_success_rate: 0, base_ejection_time: 600s")
            .map(|o| o.map(|o| o.max_ejection_time)),
        Ok(Some(Duration::from_secs(600)))
    );
    // consecutiveGatewayErrors 2 with consecutive5xxErrors 0; fields that only matter to
    // refused detectors are ignored.
    assert_eq!(
        outlier(
            "enforcing_success_rate: 0, consecutive_5xx: 0, enforcing_consecutive_5xx: 0, \
             consecutive_gateway_failure: 2, enforcing_consecutive_gateway_failure: 100, \
             max_ejection_time: 40s, max_ejection_time_jitter: 1.5s, \
             always_eject_one_host: true, success_rate_minimum_hosts: 3, \
             failure_percentage_threshold: 90, consecutive_local_origin_failure: 2, \
             successful_active_health_check_uneject_host: false"
        ),
        Ok(Some(OutlierConfig {
            consecutive_5xx: 0,
            enforcing_consecutive_5xx: 0,
            consecutive_gateway_failure: 2,
            enforcing_consecutive_gateway_failure: 100,
            max_ejection_time: Duration::from_secs(40),
            max_ejection_time_jitter: Duration::from_millis(1500),
            always_eject_one_host: true,
            ..OutlierConfig::default()
        }))
    );
}

#[test]
fn outlier_detection_refusals_name_the_field() {
    let prefix = "Cluster \"c\": outlier_detection.";
    let cases = [
        (
            "consecutive_5xx: 3",
            "enforcing_success_rate: success-rate outlier detection is not supported by \
             mesh-proxy; set it to 0",
        ),
        (
            "enforcing_success_rate: 100",
            "enforcing_success_rate: success-rate outlier detection is not supported by \
             mesh-proxy; set it to 0",
        ),
        (
            "enforcing_success_rate: 0, enforcing_failure_percentage: 50",
            "enforcing_failure_percentage: failure-percentage outlier detection is not \
             supported by mesh-proxy; set it to 0",
        ),
        (
            "enforcing_success_rate: 0, split_external_local_origin_errors: true",
            "split_external_local_origin_errors: not supported by mesh-proxy",
        ),
        (
            "enforcing_success_rate: 0, monitors: [ { name: m } ]",
            "monitors: not supported by mesh-proxy",
        ),
        (
            "enforcing_success_rate: 0, max_ejection_percent: 101",
            "max_ejection_percent: must be at most 100",
        ),
        (
            "enforcing_success_rate: 0, enforcing_consecutive_5xx: 200",
            "enforcing_consecutive_5xx: must be at most 100",
        ),
        (
            "enforcing_success_rate: 0, interval: 0s",
            "interval: must be greater than 0",
        ),
        (
            "enforcing_success_rate: 0, base_ejection_time: 60s, max_ejection_time: 30s",
            "max_ejection_time: must not be shorter than base_ejection_time",
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(
            outlier(fields),
            Err(format!("{prefix}{expected}")),
            "{fields}"
        );
    }
}
