//! A chain's network filters: `sni_cluster`s, then one terminal filter, as Envoy accepts them.

use envoy_types::pb::{
    envoy::config::listener::v3::{Listener, filter},
    google::protobuf::Any,
};

use super::super::tests::{HCM, ROUTER, TCP, error_text, listener};
use crate::config::{NetworkFilter, compile_listener};

const SNI: &str = "type.googleapis.com/envoy.extensions.filters.network.sni_cluster.v3.SniCluster";

/// `{ name: sni, typed_config: { '@type': SniCluster } }`.
fn sni_cluster() -> String {
    format!("{{ name: envoy.filters.network.sni_cluster, typed_config: {{ '@type': {SNI} }} }}")
}

fn tcp_proxy() -> String {
    format!(
        "{{ name: envoy.filters.network.tcp_proxy, typed_config: {{ '@type': {TCP}, \
         stat_prefix: t, cluster: BlackHoleCluster }} }}"
    )
}

fn hcm() -> String {
    format!(
        "{{ name: envoy.filters.network.http_connection_manager, typed_config: {{ '@type': {HCM}, \
         stat_prefix: h, rds: {{ route_config_name: r, config_source: {{ ads: {{}} }} }}, \
         http_filters: [ {{ name: envoy.filters.http.router, typed_config: {{ '@type': {ROUTER} }} }} ] }} }}"
    )
}

/// Listener `l` with one chain whose `filters` are `filters`.
fn with_filters(filters: &[String]) -> Listener {
    listener(&format!(
        "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 443 }} }}\n\
         filter_chains: [ {{ filters: [ {} ] }} ]",
        filters.join(", ")
    ))
}

/// Whether the chain's TCP proxy takes its cluster from the SNI; `None` for a connection
/// manager.
fn sni_cluster_of(filters: &[String]) -> Option<bool> {
    match &compile_listener(&with_filters(filters))
        .unwrap()
        .filter_chains[0]
        .filter
    {
        NetworkFilter::Tcp(tcp) => Some(tcp.sni_cluster),
        NetworkFilter::Http(_) => None,
    }
}

#[test]
fn sni_cluster_before_tcp_proxy_takes_the_cluster_from_the_sni() {
    assert_eq!(sni_cluster_of(&[sni_cluster(), tcp_proxy()]), Some(true));
    // Twice is accepted, as in Envoy (the second sets the same cluster again).
    assert_eq!(
        sni_cluster_of(&[sni_cluster(), sni_cluster(), tcp_proxy()]),
        Some(true)
    );
    assert_eq!(sni_cluster_of(&[tcp_proxy()]), Some(false));
}

#[test]
fn sni_cluster_before_a_connection_manager_is_accepted_and_changes_nothing() {
    assert_eq!(sni_cluster_of(&[sni_cluster(), hcm()]), None);
}

#[test]
fn filters_out_of_order_or_unknown_are_refused_by_path() {
    let prefix = "Listener \"l\": filter_chains[0].filters";
    // A message the JSON mapping knows, but no network filter.
    let unknown =
        format!("{{ name: envoy.filters.network.router, typed_config: {{ '@type': {ROUTER} }} }}");
    let named_only = "{ name: envoy.filters.network.sni_cluster }".to_owned();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![tcp_proxy(), sni_cluster()],
            format!(
                "{prefix}[0]: tcp_proxy is a terminal filter: it must be the last filter of the \
                 chain"
            ),
        ),
        (
            vec![hcm(), tcp_proxy()],
            format!(
                "{prefix}[0]: http_connection_manager is a terminal filter: it must be the last \
                 filter of the chain"
            ),
        ),
        (
            vec![sni_cluster()],
            format!(
                "{prefix}[0]: sni_cluster is not a terminal filter: the chain must end with \
                 http_connection_manager or tcp_proxy"
            ),
        ),
        (
            vec![sni_cluster(), unknown.clone(), tcp_proxy()],
            format!(
                "{prefix}[1].typed_config: network filter \"{ROUTER}\" is not supported by \
                 mesh-proxy"
            ),
        ),
        (
            vec![unknown],
            format!(
                "{prefix}[0].typed_config: network filter \"{ROUTER}\" is not supported by \
                 mesh-proxy"
            ),
        ),
        (
            vec![named_only, tcp_proxy()],
            format!("{prefix}[0].typed_config: is required"),
        ),
        (vec![], format!("{prefix}: must not be empty")),
    ];
    for (filters, expected) in cases {
        assert_eq!(
            error_text(compile_listener(&with_filters(&filters))),
            expected
        );
    }
}

#[test]
fn an_sni_cluster_config_that_does_not_decode_is_refused() {
    let mut l = with_filters(&[sni_cluster(), tcp_proxy()]);
    // A length-delimited field 1 with no length.
    l.filter_chains[0].filters[0].config_type = Some(filter::ConfigType::TypedConfig(Any {
        type_url: SNI.to_owned(),
        value: vec![0x0a],
    }));
    let text = error_text(compile_listener(&l));
    assert!(
        text.starts_with(
            "Listener \"l\": filter_chains[0].filters[0].typed_config: malformed \
             envoy.extensions.filters.network.sni_cluster.v3.SniCluster: "
        ),
        "{text}"
    );
}
