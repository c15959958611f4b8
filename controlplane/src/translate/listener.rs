//! Listeners: the outbound capture listener on 15001 and a listener per service port behind
//! it. The inbound capture listener on 15006 is in [`inbound`](super::inbound).

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{
                AggregatedConfigSource, ApiVersion, CidrRange, ConfigSource,
                config_source::ConfigSourceSpecifier,
            },
            listener::v3::{
                Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter,
                filter::ConfigType, listener_filter,
            },
        },
        extensions::filters::{
            http::router::v3::Router,
            listener::tls_inspector::v3::TlsInspector,
            network::{
                http_connection_manager::v3::{
                    HttpConnectionManager, HttpFilter, Rds,
                    http_connection_manager::{CodecType, RouteSpecifier, Tracing},
                    http_filter,
                },
                tcp_proxy::v3::{TcpProxy, tcp_proxy::ClusterSpecifier},
            },
        },
    },
    google::protobuf::{BoolValue, UInt32Value},
};
use envoy_types::util::pack_any;

use super::{endpoint::socket_address, fault, http_action, tcp_route::Chain};
use crate::model::{Protocol, Service};

/// The port iptables sends the workload's outbound connections to.
pub const OUTBOUND_PORT: u16 = 15001;

/// The capture listener: hands each connection to the listener of its original destination
/// port, and sends what none of them takes to `fallback` (passthrough or blackhole).
pub fn virtual_outbound(fallback: &str) -> Listener {
    Listener {
        name: "virtualOutbound".to_string(),
        address: Some(socket_address("0.0.0.0", OUTBOUND_PORT)),
        traffic_direction: TrafficDirection::Outbound as i32,
        use_original_dst: Some(BoolValue { value: true }),
        filter_chains: vec![FilterChain {
            name: fallback.to_string(),
            filters: vec![tcp_proxy(fallback, fallback)],
            ..FilterChain::default()
        }],
        ..Listener::default()
    }
}

/// The listener for one port of the services the proxy sees: one HTTP chain routed by RDS
/// (tracing with `tracing`) when an HTTP service uses the port, and for each other service the chains `routes` gives
/// it (by SNI name, see [`Chain`]; a TCP proxy to its route's destinations or to itself, with
/// the timeouts of its DestinationRule) matched by its VIP; anything else goes to `fallback`.
pub fn outbound_port(
    port: u16,
    services: &[(&Service, Protocol)],
    fallback: &str,
    routes: &dyn Fn(&Service, Protocol) -> Vec<Chain>,
    tracing: Option<&Tracing>,
) -> Listener {
    let mut filter_chains = Vec::new();
    if services.iter().any(|(_, protocol)| protocol.is_http()) {
        filter_chains.push(FilterChain {
            filters: vec![http_connection_manager(
                &format!("outbound_0.0.0.0_{port}"),
                &port.to_string(),
                tracing,
            )],
            ..FilterChain::default()
        });
    }
    // A VIP names one chain: the first service of a VIP wins, as hostname order decides.
    let mut by_vip = BTreeMap::new();
    for (service, protocol) in services {
        if protocol.is_http() {
            continue;
        }
        for vip in service.addresses.iter().filter(|a| !a.contains('/')) {
            by_vip.entry(vip.clone()).or_insert((*service, *protocol));
        }
    }
    let mut inspect_sni = false;
    for (vip, (service, protocol)) in by_vip {
        for (server_names, filter) in routes(service, protocol) {
            inspect_sni |= !server_names.is_empty();
            filter_chains.push(FilterChain {
                filter_chain_match: Some(FilterChainMatch {
                    prefix_ranges: vec![host_range(&vip)],
                    server_names,
                    ..FilterChainMatch::default()
                }),
                filters: vec![filter],
                ..FilterChain::default()
            });
        }
    }
    let listener_filters = if inspect_sni {
        vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".to_string(),
            config_type: Some(listener_filter::ConfigType::TypedConfig(pack_any(
                TlsInspector::default(),
            ))),
            ..ListenerFilter::default()
        }]
    } else {
        Vec::new()
    };
    Listener {
        name: format!("0.0.0.0_{port}"),
        address: Some(socket_address("0.0.0.0", port)),
        traffic_direction: TrafficDirection::Outbound as i32,
        bind_to_port: Some(BoolValue { value: false }),
        listener_filters,
        filter_chains,
        // A connection to an address no chain names (a pod IP, an external host on the same
        // port) is treated as the capture listener treats unknown destinations.
        default_filter_chain: Some(FilterChain {
            name: fallback.to_string(),
            filters: vec![tcp_proxy(fallback, fallback)],
            ..FilterChain::default()
        }),
        ..Listener::default()
    }
}

fn host_range(ip: &str) -> CidrRange {
    let len = if ip.contains(':') { 128 } else { 32 };
    CidrRange {
        address_prefix: ip.to_string(),
        prefix_len: Some(UInt32Value { value: len }),
    }
}

/// A TCP proxy to a cluster no DestinationRule shapes: a catch-all or an inbound port.
pub(super) fn tcp_proxy(stat_prefix: &str, cluster: &str) -> Filter {
    let proxy = TcpProxy {
        stat_prefix: stat_prefix.to_string(),
        cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_string())),
        ..TcpProxy::default()
    };
    Filter {
        name: "envoy.filters.network.tcp_proxy".to_string(),
        config_type: Some(ConfigType::TypedConfig(pack_any(proxy))),
    }
}

/// The connection manager of an outbound port: routes from RDS, where VirtualServices may
/// fault requests, so the fault filter goes before the router, as Istio installs it.
fn http_connection_manager(
    stat_prefix: &str,
    route_config: &str,
    tracing: Option<&Tracing>,
) -> Filter {
    http_connection_manager_with(
        stat_prefix,
        RouteSpecifier::Rds(Rds {
            config_source: Some(ConfigSource {
                config_source_specifier: Some(ConfigSourceSpecifier::Ads(
                    AggregatedConfigSource {},
                )),
                resource_api_version: ApiVersion::V3 as i32,
                ..ConfigSource::default()
            }),
            route_config_name: route_config.to_string(),
        }),
        vec![fault::filter(), http_action::cors_filter(), router()],
        tracing,
    )
}

/// An HTTP connection manager routing by `routes` through `http_filters`, the router last,
/// tracing requests with `tracing` (the proxy's, see `proxy::trace`).
pub(super) fn http_connection_manager_with(
    stat_prefix: &str,
    routes: RouteSpecifier,
    http_filters: Vec<HttpFilter>,
    tracing: Option<&Tracing>,
) -> Filter {
    let manager = HttpConnectionManager {
        stat_prefix: stat_prefix.to_string(),
        codec_type: CodecType::Auto as i32,
        route_specifier: Some(routes),
        http_filters,
        tracing: tracing.cloned(),
        ..HttpConnectionManager::default()
    };
    Filter {
        name: "envoy.filters.network.http_connection_manager".to_string(),
        config_type: Some(ConfigType::TypedConfig(pack_any(manager))),
    }
}

/// The router, the last HTTP filter of every connection manager.
pub(super) fn router() -> HttpFilter {
    HttpFilter {
        name: "envoy.filters.http.router".to_string(),
        config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
            Router::default(),
        ))),
        ..HttpFilter::default()
    }
}
