//! The inbound capture listener on 15006: one filter chain per port the workload serves, to
//! its `inbound|<port>||` cluster. The ports are those of the services whose endpoints are the
//! workload's, or, when the proxy's Sidecar has `ingress` listeners, those listeners' ports
//! instead ([`ingress`]), as in Istio.
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

mod ingress;

use std::collections::BTreeMap;

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing;

use super::{
    EgressScope, Proxy, Resources, cluster,
    egress::applied_sidecar,
    endpoint::socket_address,
    listener::{http_connection_manager_with, router, tcp_proxy},
    proxy::trace,
};
use crate::model::{Protocol, Service, Snapshot};

/// The port iptables sends connections for the workload to.
pub const INBOUND_PORT: u16 = 15006;

/// The application protocols the HTTP inspector reports for HTTP.
const HTTP_PROTOCOLS: [&str; 2] = ["http/1.1", "h2c"];

/// The inbound side of a sidecar: a cluster for each port its workload serves and the
/// `virtualInbound` listener, each list in name order; and what of its config it cannot honour
/// (ingress listeners it cannot serve, a tracing provider it cannot use), one line each.
pub fn sidecar(snapshot: &Snapshot, proxy: &Proxy) -> (Resources, Vec<String>) {
    let mut out = Resources::default();
    let sidecar = applied_sidecar(snapshot, proxy);
    let scope = EgressScope::for_proxy(snapshot, proxy);
    let traced = trace::for_inbound(snapshot, proxy, &|service, port| {
        scope.has_outbound_cluster(&proxy.namespace, service, port)
    });
    let mut warnings = traced.warnings;
    let served = service_ports(snapshot, proxy);
    let ports: Vec<(u16, Protocol)> = match sidecar.filter(|s| !s.spec.ingress.is_empty()) {
        Some(sidecar) => {
            let ingress = ingress::ports(sidecar, proxy, &served);
            out.clusters = ingress.clusters;
            warnings.extend(ingress.warnings);
            ingress.ports
        }
        None => {
            let pool = sidecar.and_then(|s| s.spec.inbound_connection_pool.as_ref());
            out.clusters = served
                .iter()
                .map(|(&port, (services, protocol))| {
                    ingress::pooled(cluster::inbound(port, services), *protocol, pool)
                })
                .collect();
            served
                .iter()
                .map(|(&port, (_, protocol))| (port, *protocol))
                .collect()
        }
    };
    out.listeners
        .push(virtual_inbound(&ports, traced.tracing.as_ref()));
    out.sort();
    (out, warnings)
}

/// The ports the proxy's own workload serves, each with the services that lead there and what
/// the workload speaks on it, by the service ports that lead there.
fn service_ports<'a>(
    snapshot: &'a Snapshot,
    proxy: &'a Proxy,
) -> BTreeMap<u16, (Vec<&'a Service>, Protocol)> {
    let mut inbound: BTreeMap<u16, (Vec<&Service>, Protocol)> = BTreeMap::new();
    for service in snapshot.visible_services(&proxy.namespace) {
        for endpoint in service
            .endpoints
            .iter()
            .filter(|e| proxy.has_ip(&e.address))
        {
            for (service_port, &port) in &endpoint.ports {
                let protocol = service
                    .ports
                    .iter()
                    .find(|p| p.number == *service_port)
                    .map_or(Protocol::Auto, |p| p.protocol);
                let (services, known) = inbound.entry(port).or_insert((Vec::new(), protocol));
                // Services that disagree about a port leave it to sniffing.
                if *known != protocol {
                    *known = Protocol::Auto;
                }
                if !services.iter().any(|s| s.hostname == service.hostname) {
                    services.push(service);
                }
            }
        }
    }
    inbound
}

/// The inbound capture listener for the workload's `ports`, each with its protocol, its
/// connection managers tracing with `tracing`. The original-destination listener filter
/// recovers the port the client dialled; `use_original_dst` would instead hand the connection
/// to the outbound listener of that port.
pub fn virtual_inbound(ports: &[(u16, Protocol)], tracing: Option<&Tracing>) -> Listener {
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
            .flat_map(|&(port, protocol)| chains(port, protocol, tracing))
            .collect(),
        ..Listener::default()
    }
}

fn chains(port: u16, protocol: Protocol, tracing: Option<&Tracing>) -> Vec<FilterChain> {
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
            tracing,
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
mod tests;
