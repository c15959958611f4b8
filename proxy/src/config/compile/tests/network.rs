//! The terminal network filters: the connection manager's HTTP filters and route source, and
//! the TCP proxy.

use std::time::Duration;

use envoy_types::pb::envoy::config::listener::v3::Listener;

use super::{HCM, error_text, http_listener, listener, tcp_listener};
use crate::{
    config::{NetworkFilter, compile_listener},
    route::{Clusters, Fault, Fraction},
};

/// Listener `l` whose connection manager routes by RDS through `filters`, the YAML items of
/// its `http_filters`.
fn with_http_filters(filters: &str) -> Listener {
    listener(&format!(
        "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, http_filters: [ {filters} ] }} }} ] }} ]"
    ))
}

#[test]
fn istios_fault_then_cors_chain_installs_both() {
    let l = with_http_filters(
        "{ name: envoy.filters.http.fault, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault } }, { name: envoy.filters.http.cors, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors } }, { name: envoy.filters.http.router }",
    );
    let config = compile_listener(&l).unwrap();
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    assert_eq!(hcm.fault.as_deref(), Some(&Fault::default()));
    assert!(hcm.cors);
}

#[test]
fn the_fault_filter_before_the_router_is_installed_with_its_config() {
    let l = with_http_filters(
        "{ name: envoy.filters.http.fault, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: { http_status: 418, percentage: { numerator: 5 } } } }, { name: envoy.filters.http.router }",
    );
    let config = compile_listener(&l).unwrap();
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    assert_eq!(
        hcm.fault.as_deref(),
        Some(&Fault {
            delay: None,
            abort: Some((
                crate::route::Abort::Http(http::StatusCode::IM_A_TEAPOT),
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
fn network_filter_refusals_name_the_field() {
    let cases: Vec<(Listener, &str)> = vec![
        (
            http_listener("l", 80, "r", "          xff_num_trusted_hops: 1"),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.xff_num_trusted_hops: not supported by mesh-proxy",
        ),
        (
            with_http_filters(
                "{ name: envoy.filters.http.lua }, { name: envoy.filters.http.router }",
            ),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[0]: HTTP filter \"envoy.filters.http.lua\" is not supported by mesh-proxy",
        ),
        (
            with_http_filters(
                "{ name: envoy.filters.http.cors }, { name: envoy.filters.http.fault }, { name: envoy.filters.http.router }",
            ),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[1]: HTTP filter \"envoy.filters.http.fault\" is not supported by mesh-proxy",
        ),
        (
            with_http_filters(
                "{ name: envoy.filters.http.cors, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault } }, { name: envoy.filters.http.router }",
            ),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config: expected type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors, got \"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\"",
        ),
        (
            with_http_filters(
                "{ name: envoy.filters.http.fault, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: { header_abort: {} } } }, { name: envoy.filters.http.router }",
            ),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.abort.header_abort: not supported by mesh-proxy",
        ),
        (
            with_http_filters(""),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.http_filters: must end with envoy.filters.http.router",
        ),
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ filters: [ {{ name: h, typed_config: {{ '@type': {HCM}, stat_prefix: s, route_config: {{ name: inline, virtual_hosts: [ {{ name: v, domains: ['*'], routes: [ {{ match: {{ safe_regex: {{ regex: 'a(b' }} }}, route: {{ cluster: c }} }} ] }} ] }}, http_filters: [ {{ name: envoy.filters.http.router }} ] }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].match.safe_regex: regex \"a(b\" does not compile: unclosed group",
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
