//! The TCP side of a gateway: a TCP port proxies to the destination of the bound `tcp` route,
//! and a TLS port in `PASSTHROUGH` mode picks a `tls` route by the client's SNI and proxies the
//! still-encrypted stream. The TCP proxies take their timeouts from the DestinationRules the
//! gateway's namespace and labels pick, as a sidecar's do.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::{
    config::listener::v3::{
        FilterChain, FilterChainMatch, Listener, ListenerFilter, listener_filter,
    },
    extensions::filters::listener::tls_inspector::v3::TlsInspector,
};
use envoy_types::util::pack_any;

use super::{Bound, Proxy, bound_virtual_services, names, resolve_gateway_name};
use crate::{
    model::Snapshot,
    translate::{endpoint::socket_address, tcp_route::tcp_proxy},
};

/// The listener of a TCP port, with the clusters it sends to: the first `tcp` route, in
/// Istio's order, of a VirtualService bound to a server of the port whose hosts meet the
/// server's. `None` when no route applies: a listener with no chain would be refused.
pub fn tcp_listener(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    servers: &[Bound],
) -> Option<(Listener, BTreeSet<String>)> {
    for bound in servers {
        for (vs, vs_namespace) in bound_virtual_services(snapshot, &proxy.namespace, bound.gateway)
        {
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
            let Some((filter, clusters)) =
                tcp_proxy(snapshot, proxy, vs_namespace, port, &route.route)
            else {
                continue;
            };
            let listener = Listener {
                filter_chains: vec![FilterChain {
                    filters: vec![filter],
                    ..FilterChain::default()
                }],
                ..listener(port, bound)
            };
            return Some((listener, clusters));
        }
    }
    None
}

/// The listener of a TLS passthrough port, with the clusters it sends to: a chain per `tls`
/// match of a bound VirtualService, for the SNI names it shares with the server. Envoy refuses
/// two chains of one name, so a name already taken by an earlier match is left to that match.
pub fn passthrough_listener(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    servers: &[Bound],
) -> Option<(Listener, BTreeSet<String>)> {
    let mut chains = Vec::new();
    let mut clusters = BTreeSet::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for bound in servers {
        for (vs, vs_namespace) in bound_virtual_services(snapshot, &proxy.namespace, bound.gateway)
        {
            if !shares_hosts(snapshot, bound, &vs.hosts, vs_namespace) {
                continue;
            }
            let server_hosts =
                names::server_hosts(&bound.server.hosts, bound.namespace, vs_namespace);
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
    }
    let first = servers.first()?;
    if chains.is_empty() {
        return None;
    }
    let listener = Listener {
        listener_filters: vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".to_string(),
            config_type: Some(listener_filter::ConfigType::TypedConfig(pack_any(
                TlsInspector::default(),
            ))),
            ..ListenerFilter::default()
        }],
        filter_chains: chains,
        ..listener(port, first)
    };
    Some((listener, clusters))
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
fn listener(port: u16, bound: &Bound) -> Listener {
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
