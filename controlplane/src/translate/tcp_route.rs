//! VirtualService `tcp` and `tls` routes for sidecars, and the TCP proxy to a route's destinations that
//! sidecars and gateways share, with the timeouts of the destination's DestinationRule.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::{
    config::listener::v3::{Filter, filter::ConfigType},
    extensions::filters::network::tcp_proxy::v3::{
        TcpProxy,
        tcp_proxy::{ClusterSpecifier, WeightedCluster, weighted_cluster::ClusterWeight},
    },
};
use envoy_types::util::pack_any;
use mesh_common::api::{self, RouteDestination};

use super::{
    EgressScope, Proxy, cluster_name, duration, http_route::destination_cluster, policy,
    route::virtual_service,
};
use crate::model::{Protocol, Snapshot};

/// Istio's TCP proxy idle timeout when `connectionPool.tcp.idleTimeout` is unset.
const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// One chain of a service's VIP: the SNI names it takes (empty: any) and where it proxies.
pub type Chain = (Vec<String>, Filter);

/// The chains of a service's VIP on `port` for a sidecar, from the service's VirtualService;
/// when no route applies (or there is none), one chain to the service itself.
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
    let hostname = service.0;
    let chains = routed_chains(snapshot, proxy, scope, port, service);
    if !chains.is_empty() {
        return chains;
    }
    let itself = cluster_name(port, "", hostname);
    let filter = filter(
        snapshot,
        proxy,
        itself.clone(),
        ClusterSpecifier::Cluster(itself.clone()),
        &itself,
    );
    vec![(Vec::new(), filter)]
}

/// The chains a VirtualService of the service gives it; empty when none applies.
fn routed_chains(
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
        tcp_proxy(snapshot, proxy, vs_namespace, port, route).map(|(filter, _)| filter)
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

/// A TCP proxy from `client` (a sidecar or gateway) to the destinations of a route of a
/// VirtualService in `vs_namespace`, with their cluster names: one cluster, or several by
/// weight. `None` for a route with no destination.
///
/// `connectionPool.tcp.idleTimeout` (default 1h, `0s`: none) and `maxConnectionDuration` of
/// the DestinationRule the client uses for the destination, with its subset and port-level
/// settings merged as for the destination's cluster, give `idle_timeout` and
/// `max_downstream_connection_duration`. They are settings of the proxy, not of a cluster, so a
/// weighted route takes those of its first destination for all, as Istio does.
pub fn tcp_proxy(
    snapshot: &Snapshot,
    client: &Proxy,
    vs_namespace: &str,
    port: u16,
    destinations: &[RouteDestination],
) -> Option<(Filter, BTreeSet<String>)> {
    let cluster =
        |d: &RouteDestination| destination_cluster(snapshot, vs_namespace, port, &d.destination);
    let first = cluster(destinations.first()?);
    let (stat_prefix, specifier) = match destinations {
        [_] => (first.clone(), ClusterSpecifier::Cluster(first.clone())),
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
    let filter = filter(snapshot, client, stat_prefix, specifier, &first);
    Some((filter, clusters))
}

/// The `tcp_proxy` filter to `specifier`, with the timeouts of the policy of `first`, the cluster
/// whose DestinationRule decides.
fn filter(
    snapshot: &Snapshot,
    client: &Proxy,
    stat_prefix: String,
    specifier: ClusterSpecifier,
    first: &str,
) -> Filter {
    let tcp = policy::for_cluster(snapshot, &client.namespace, &client.labels, first)
        .and_then(|p| p.connection_pool)
        .and_then(|pool| pool.tcp);
    let time = |d: Option<&api::Duration>| {
        d.and_then(|d| d.parse().ok())
            .map(|d: std::time::Duration| duration(d))
    };
    let idle = tcp.as_ref().and_then(|t| t.idle_timeout.as_ref());
    let max = tcp
        .as_ref()
        .and_then(|t| t.max_connection_duration.as_ref());
    let proxy = TcpProxy {
        stat_prefix,
        cluster_specifier: Some(specifier),
        // Sent even when unset, so that the timeout a proxy applies is the one its config shows.
        idle_timeout: time(idle).or(Some(duration(DEFAULT_IDLE_TIMEOUT))),
        max_downstream_connection_duration: time(max),
        ..TcpProxy::default()
    };
    Filter {
        name: "envoy.filters.network.tcp_proxy".to_string(),
        config_type: Some(ConfigType::TypedConfig(pack_any(proxy))),
    }
}

#[cfg(test)]
mod tests;
