//! VirtualService `tcp` and `tls` routes for sidecars, and the TCP proxy to a route's destinations that
//! sidecars and gateways share.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::{
    config::listener::v3::{Filter, filter::ConfigType},
    extensions::filters::network::tcp_proxy::v3::{
        TcpProxy,
        tcp_proxy::{ClusterSpecifier, WeightedCluster, weighted_cluster::ClusterWeight},
    },
};
use envoy_types::util::pack_any;
use mesh_common::api::RouteDestination;

use super::{EgressScope, Proxy, http_route::destination_cluster, route::virtual_service};
use crate::model::{Protocol, Snapshot};

/// One chain of a service's VIP: the SNI names it takes (empty: any) and where it proxies.
pub type Chain = (Vec<String>, Filter);

/// The chains of a service's VIP on `port` for a sidecar, from the service's VirtualService;
/// empty when no route applies and the service itself takes every connection.
///
/// A TLS or HTTPS port takes the `tls` routes: a chain per applicable match, for its
/// `sniHosts` (a connection whose SNI none names falls to the listener's default, as in
/// Istio); a match whose names an earlier one already took adds nothing, as Envoy refuses two
/// identical chains. Any other port takes the destinations of the first `tcp` route, in the
/// order written, whose matches apply.
///
/// A match applies when its `port`, `gateways` (`mesh`), `sourceLabels` and
/// `sourceNamespace` all admit the proxy. A match with `destinationSubnets` never applies:
/// the chains of a service are chosen by the service's addresses, not by the subnets.
pub fn sidecar_chains(
    snapshot: &Snapshot,
    proxy: &Proxy,
    scope: &EgressScope,
    port: u16,
    service: (&str, Protocol),
) -> Vec<Chain> {
    let (hostname, protocol) = service;
    let Some((vs, vs_namespace)) =
        virtual_service(snapshot, &proxy.namespace, port, hostname, scope)
    else {
        return Vec::new();
    };
    let proxy_to = |route: &[RouteDestination]| {
        tcp_proxy(snapshot, vs_namespace, port, route).map(|(filter, _)| filter)
    };
    if !matches!(protocol, Protocol::Tls | Protocol::Https) {
        return vs
            .tcp
            .iter()
            .find(|route| {
                route.matches.is_empty()
                    || route.matches.iter().any(|m| {
                        applies(
                            m.port,
                            &m.gateways,
                            &m.source_labels,
                            &m.source_namespace,
                            &m.destination_subnets,
                            port,
                            proxy,
                        )
                    })
            })
            .and_then(|route| proxy_to(&route.route))
            .map(|filter| (Vec::new(), filter))
            .into_iter()
            .collect();
    }
    let mut chains: Vec<Chain> = Vec::new();
    for route in &vs.tls {
        for m in &route.matches {
            let admitted = applies(
                m.port,
                &m.gateways,
                &m.source_labels,
                &m.source_namespace,
                &m.destination_subnets,
                port,
                proxy,
            );
            if !admitted {
                continue;
            }
            // Envoy has no `*` server name: a chain for any name lists none.
            let mut names = if m.sni_hosts.iter().any(|h| h == "*") {
                Vec::new()
            } else {
                m.sni_hosts.clone()
            };
            names.sort();
            if chains.iter().any(|(taken, _)| *taken == names) {
                continue;
            }
            if let Some(filter) = proxy_to(&route.route) {
                chains.push((names, filter));
            }
        }
    }
    chains
}

/// Whether an L4 or TLS match's attributes admit the proxy on `port`.
fn applies(
    match_port: Option<u32>,
    gateways: &[String],
    source_labels: &BTreeMap<String, String>,
    source_namespace: &str,
    destination_subnets: &[String],
    port: u16,
    proxy: &Proxy,
) -> bool {
    match_port.is_none_or(|p| p == u32::from(port))
        && (gateways.is_empty() || gateways.iter().any(|g| g == "mesh"))
        && source_labels
            .iter()
            .all(|(k, v)| proxy.labels.get(k) == Some(v))
        && (source_namespace.is_empty() || source_namespace == proxy.namespace)
        && destination_subnets.is_empty()
}

/// A TCP proxy to the destinations of a route, with their cluster names: one cluster, or
/// several by weight. `None` for a route with no destination.
pub fn tcp_proxy(
    snapshot: &Snapshot,
    vs_namespace: &str,
    port: u16,
    destinations: &[RouteDestination],
) -> Option<(Filter, BTreeSet<String>)> {
    let cluster =
        |d: &RouteDestination| destination_cluster(snapshot, vs_namespace, port, &d.destination);
    let (stat_prefix, specifier) = match destinations {
        [] => return None,
        [only] => {
            let name = cluster(only);
            (name.clone(), ClusterSpecifier::Cluster(name))
        }
        many => (
            format!("outbound_0.0.0.0_{port}"),
            ClusterSpecifier::WeightedClusters(WeightedCluster {
                clusters: many
                    .iter()
                    .map(|d| ClusterWeight {
                        name: cluster(d),
                        weight: d.weight.and_then(|w| u32::try_from(w).ok()).unwrap_or(0),
                        ..ClusterWeight::default()
                    })
                    .collect(),
            }),
        ),
    };
    let clusters = match &specifier {
        ClusterSpecifier::Cluster(name) => BTreeSet::from([name.clone()]),
        ClusterSpecifier::WeightedClusters(w) => {
            w.clusters.iter().map(|c| c.name.clone()).collect()
        }
    };
    let proxy = TcpProxy {
        stat_prefix,
        cluster_specifier: Some(specifier),
        ..TcpProxy::default()
    };
    let filter = Filter {
        name: "envoy.filters.network.tcp_proxy".to_string(),
        config_type: Some(ConfigType::TypedConfig(pack_any(proxy))),
    };
    Some((filter, clusters))
}

#[cfg(test)]
mod tests;
