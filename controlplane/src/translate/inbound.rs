//! The inbound capture listener on 15006: one filter chain per port the workload serves, to
//! its `inbound|<port>||` cluster.
//!
//! An HTTP port gets a connection manager, as in Istio, so that the proxy sees requests on the
//! way in (the destination side of Istio's metrics, and later authorization); its one route
//! sends everything to the workload with no timeout, since the caller's side owns timeouts. A
//! TCP port gets a TCP proxy. A port whose protocol nothing declares is sniffed: the HTTP
//! inspector tells HTTP/1.1 and h2c from the rest, and each goes to its own chain.

use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::{
    envoy::{
        config::{
            listener::v3::{
                FilterChain, FilterChainMatch, Listener, ListenerFilter, listener_filter,
            },
            route::v3::{
                Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, route::Action,
                route_action::ClusterSpecifier, route_match::PathSpecifier,
            },
        },
        extensions::filters::{
            listener::{http_inspector::v3::HttpInspector, original_dst::v3::OriginalDst},
            network::http_connection_manager::v3::http_connection_manager::RouteSpecifier,
        },
    },
    google::protobuf::{Duration, UInt32Value},
};
use envoy_types::util::pack_any;

use super::{
    endpoint::socket_address,
    listener::{http_connection_manager_with, router, tcp_proxy},
};
use crate::model::Protocol;

/// The port iptables sends connections for the workload to.
pub const INBOUND_PORT: u16 = 15006;

/// The application protocols the HTTP inspector reports for HTTP.
const HTTP_PROTOCOLS: [&str; 2] = ["http/1.1", "h2c"];

/// The inbound capture listener for the workload's `ports`, each with its protocol. The
/// original-destination listener filter recovers the port the client dialled;
/// `use_original_dst` would instead hand the connection to the outbound listener of that port.
pub fn virtual_inbound(ports: &[(u16, Protocol)]) -> Listener {
    let mut listener_filters = vec![listener_filter(
        "envoy.filters.listener.original_dst",
        pack_any(OriginalDst::default()),
    )];
    if ports.iter().any(|(_, p)| *p == Protocol::Auto) {
        listener_filters.push(listener_filter(
            "envoy.filters.listener.http_inspector",
            pack_any(HttpInspector::default()),
        ));
    }
    Listener {
        name: "virtualInbound".to_string(),
        address: Some(socket_address("0.0.0.0", INBOUND_PORT)),
        // `/drain_listeners?inboundonly` drains it, as Istio's sidecars do before they stop.
        traffic_direction: TrafficDirection::Inbound as i32,
        listener_filters,
        filter_chains: ports
            .iter()
            .flat_map(|&(port, protocol)| chains(port, protocol))
            .collect(),
        ..Listener::default()
    }
}

fn chains(port: u16, protocol: Protocol) -> Vec<FilterChain> {
    let cluster = format!("inbound|{port}||");
    let on_port = |application_protocols: Vec<String>| FilterChainMatch {
        destination_port: Some(UInt32Value {
            value: u32::from(port),
        }),
        application_protocols,
        ..FilterChainMatch::default()
    };
    let http = |application_protocols| FilterChain {
        name: cluster.clone(),
        filter_chain_match: Some(on_port(application_protocols)),
        filters: vec![http_connection_manager_with(
            &format!("inbound_0.0.0.0_{port}"),
            RouteSpecifier::RouteConfig(route_to_workload(port, &cluster)),
            vec![router()],
        )],
        ..FilterChain::default()
    };
    let tcp = FilterChain {
        name: cluster.clone(),
        filter_chain_match: Some(on_port(Vec::new())),
        filters: vec![tcp_proxy(&cluster, &cluster)],
        ..FilterChain::default()
    };
    match protocol {
        p if p.is_http() => vec![http(Vec::new())],
        Protocol::Auto => vec![http(HTTP_PROTOCOLS.map(String::from).into()), tcp],
        _ => vec![tcp],
    }
}

/// Istio's inbound route: every request to the workload, with the route timeout turned off.
fn route_to_workload(port: u16, cluster: &str) -> RouteConfiguration {
    RouteConfiguration {
        name: cluster.to_string(),
        virtual_hosts: vec![VirtualHost {
            name: format!("inbound|http|{port}"),
            domains: vec!["*".to_string()],
            routes: vec![Route {
                name: "default".to_string(),
                r#match: Some(RouteMatch {
                    path_specifier: Some(PathSpecifier::Prefix("/".to_string())),
                    ..RouteMatch::default()
                }),
                action: Some(Action::Route(RouteAction {
                    cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_string())),
                    timeout: Some(Duration::default()),
                    ..RouteAction::default()
                })),
                ..Route::default()
            }],
            ..VirtualHost::default()
        }],
        ..RouteConfiguration::default()
    }
}

fn listener_filter(name: &str, config: envoy_types::pb::google::protobuf::Any) -> ListenerFilter {
    ListenerFilter {
        name: name.to_string(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(config)),
        ..ListenerFilter::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(listener: &Listener) -> Vec<(u32, Vec<String>, String)> {
        listener
            .filter_chains
            .iter()
            .map(|chain| {
                let matched = chain.filter_chain_match.clone().unwrap_or_default();
                (
                    matched.destination_port.map_or(0, |p| p.value),
                    matched.application_protocols,
                    chain.filters[0].name.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn http_ports_get_a_connection_manager_tcp_ports_a_tcp_proxy_and_unknown_ones_both() {
        let listener = virtual_inbound(&[
            (8080, Protocol::Auto),
            (9080, Protocol::Http),
            (9090, Protocol::Grpc),
            (27017, Protocol::Mongo),
        ]);
        let hcm = "envoy.filters.network.http_connection_manager".to_string();
        let tcp = "envoy.filters.network.tcp_proxy".to_string();
        assert_eq!(
            summary(&listener),
            [
                (8080, vec!["http/1.1".into(), "h2c".into()], hcm.clone()),
                (8080, vec![], tcp.clone()),
                (9080, vec![], hcm.clone()),
                (9090, vec![], hcm),
                (27017, vec![], tcp),
            ]
        );
        let filters: Vec<&str> = listener
            .listener_filters
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            filters,
            [
                "envoy.filters.listener.original_dst",
                "envoy.filters.listener.http_inspector"
            ]
        );
    }

    #[test]
    fn without_an_unknown_port_there_is_nothing_to_sniff() {
        let listener = virtual_inbound(&[(9080, Protocol::Http)]);
        assert_eq!(listener.listener_filters.len(), 1);
    }
}
