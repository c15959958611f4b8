//! The TCP side of a gateway: a TCP port proxies to the destination of the bound `tcp` route,
//! as does a TLS server once it has terminated TLS, and a TLS server in `PASSTHROUGH` mode
//! picks a `tls` route by the client's SNI and proxies the still-encrypted stream. The TCP
//! proxies take their timeouts from the DestinationRules the gateway's namespace and labels
//! pick, as a sidecar's do.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::{
    config::listener::v3::{
        Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, listener_filter,
    },
    extensions::filters::listener::tls_inspector::v3::TlsInspector,
};
use envoy_types::util::pack_any;

use super::{Bound, Proxy, bound_virtual_services, names, resolve_gateway_name};
use crate::{
    model::Snapshot,
    translate::{endpoint::socket_address, tcp_route::tcp_proxy},
};

/// The listener of a TCP port, with the clusters it sends to: the first server of the port
/// with a route (see [`route_filter`]). `None` when no route applies: a listener with no
/// chain would be refused.
pub fn tcp_listener(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    servers: &[Bound],
) -> Option<(Listener, BTreeSet<String>)> {
    servers.iter().find_map(|bound| {
        let (filter, clusters) = route_filter(snapshot, proxy, port, bound)?;
        let listener = Listener {
            filter_chains: vec![FilterChain {
                filters: vec![filter],
                ..FilterChain::default()
            }],
            ..listener(port, bound)
        };
        Some((listener, clusters))
    })
}

/// The TCP proxy of a server that forwards whole connections (a TCP server, or a TLS server
/// that terminates TLS), with the clusters it sends to: the first `tcp` route, in Istio's
/// order, of a VirtualService bound to the server whose hosts meet the server's and whose
/// matches apply to the port.
pub fn route_filter(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    bound: &Bound,
) -> Option<(Filter, BTreeSet<String>)> {
    for (vs, vs_namespace) in bound_virtual_services(snapshot, &proxy.namespace, bound.gateway) {
        if !shares_hosts(snapshot, bound, &vs.hosts, vs_namespace) {
            continue;
        }
        let Some(route) = vs.tcp.iter().find(|route| {
            route.matches.is_empty()
                || route
                    .matches
                    .iter()
                    .any(|m| applies(m.port, &m.gateways, port, bound.gateway, vs_namespace))
        }) else {
            continue;
        };
        if let Some(built) = tcp_proxy(snapshot, proxy, vs_namespace, port, &route.route) {
            return Some(built);
        }
    }
    None
}

/// The chains of a TLS passthrough server, with the clusters they send to: a chain per `tls`
/// match of a bound VirtualService, for the SNI names it shares with the server. Envoy refuses
/// two chains of one name, so a name already in `taken` (`*` for a chain of every name) is
/// left to the chain that took it; the names of the chains made are added to it.
pub fn passthrough_chains(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    bound: &Bound,
    taken: &mut BTreeSet<String>,
) -> (Vec<FilterChain>, BTreeSet<String>) {
    let mut chains = Vec::new();
    let mut clusters = BTreeSet::new();
    for (vs, vs_namespace) in bound_virtual_services(snapshot, &proxy.namespace, bound.gateway) {
        if !shares_hosts(snapshot, bound, &vs.hosts, vs_namespace) {
            continue;
        }
        let server_hosts = names::server_hosts(&bound.server.hosts, bound.namespace, vs_namespace);
        for route in &vs.tls {
            for m in &route.matches {
                if !applies(m.port, &m.gateways, port, bound.gateway, vs_namespace) {
                    continue;
                }
                let names: Vec<String> = names::intersect(&server_hosts, &m.sni_hosts)
                    .into_iter()
                    .filter(|name| !taken.contains(name))
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let Some((filter, used)) =
                    tcp_proxy(snapshot, proxy, vs_namespace, port, &route.route)
                else {
                    continue;
                };
                taken.extend(names.iter().cloned());
                clusters.extend(used);
                // Envoy has no `*` server name: a chain for every name matches none.
                let server_names = if names.iter().any(|n| n == "*") {
                    Vec::new()
                } else {
                    names
                };
                chains.push(FilterChain {
                    filter_chain_match: Some(FilterChainMatch {
                        server_names,
                        ..FilterChainMatch::default()
                    }),
                    filters: vec![filter],
                    ..FilterChain::default()
                });
            }
        }
    }
    (chains, clusters)
}

/// The listener filter that reads the client's SNI, which TLS chains match on.
pub fn tls_inspector() -> ListenerFilter {
    ListenerFilter {
        name: "envoy.filters.listener.tls_inspector".to_string(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(pack_any(
            TlsInspector::default(),
        ))),
        ..ListenerFilter::default()
    }
}

/// Whether an L4 match of a VirtualService in `vs_namespace` applies to a server of `gateway`
/// on `port`: its `port`, when set, is the server's, and its `gateways`, when listed, name it.
fn applies(
    match_port: Option<u32>,
    gateways: &[String],
    port: u16,
    gateway: &str,
    vs_namespace: &str,
) -> bool {
    match_port.is_none_or(|p| p == u32::from(port))
        && (gateways.is_empty()
            || gateways
                .iter()
                .any(|g| resolve_gateway_name(g, vs_namespace) == gateway))
}

/// Whether a VirtualService's hosts meet the server's.
fn shares_hosts(snapshot: &Snapshot, bound: &Bound, hosts: &[String], vs_namespace: &str) -> bool {
    let server_hosts = names::server_hosts(&bound.server.hosts, bound.namespace, vs_namespace);
    let vs_hosts: Vec<String> = hosts
        .iter()
        .map(|h| snapshot.resolve_host(h, vs_namespace))
        .collect();
    !names::intersect(&server_hosts, &vs_hosts).is_empty()
}

/// A listener on the port with no chains yet.
pub fn listener(port: u16, bound: &Bound) -> Listener {
    let bind = match bound.server.bind.as_str() {
        "" => "0.0.0.0",
        bind => bind,
    };
    Listener {
        name: format!("{bind}_{port}"),
        address: Some(socket_address(bind, port)),
        ..Listener::default()
    }
}
