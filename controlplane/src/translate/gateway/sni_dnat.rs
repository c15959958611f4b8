//! `AUTO_PASSTHROUGH` servers, as Istio builds them for east-west (multi-network) gateways: the
//! client's TLS passes through untouched and its SNI names the cluster it goes to.
//!
//! The server's chain matches its hosts as SNI patterns and runs `sni_cluster`, which replaces
//! the TCP proxy's cluster (`BlackHoleCluster`, where a connection without SNI stays) by the
//! SNI, then the TCP proxy. The names a client may ask for are the gateway's SNI-DNAT clusters:
//! `outbound_.<port>_.<subset>_.<hostname>` for every port of every service the gateway's
//! namespace sees, and every subset of the service's DestinationRule. They are the outbound
//! clusters of those names (`outbound|<port>|<subset>|<hostname>`), with their endpoints and
//! traffic policy, but never the rule's TLS: the client's own TLS is what goes upstream.
//!
//! This is Istio's `sni_cluster` form of the server (its `ENABLE_LEGACY_AUTO_PASSTHROUGH`);
//! Istio now makes a chain per cluster instead, which routes the same names to the same
//! clusters. As in Istio, the clusters are built once a Gateway that selects the proxy has an
//! `AUTO_PASSTHROUGH` server (its older releases asked for router mode `sni-dnat` instead).

use std::collections::BTreeSet;

use envoy_types::pb::envoy::{
    config::{
        cluster::v3::cluster::EdsClusterConfig,
        listener::v3::{Filter, FilterChain, FilterChainMatch, filter::ConfigType},
    },
    extensions::filters::network::{
        sni_cluster::v3::SniCluster,
        tcp_proxy::v3::{TcpProxy, tcp_proxy::ClusterSpecifier},
    },
};
use envoy_types::util::pack_any;

use super::{Proxy, Resources, cluster, policy};
use crate::{
    model::{Location, Protocol, Resolution, Snapshot},
    translate::{BLACKHOLE_CLUSTER, duration},
};

/// The TCP proxy's idle timeout: Istio's (and Envoy's) default, sent as the other TCP proxies
/// send theirs, so that the config shows the timeout the proxy applies.
const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// The SNI-DNAT name of a port (and subset, empty for none) of a service, which clients of an
/// `AUTO_PASSTHROUGH` server send as SNI: Istio's `BuildDNSSrvSubsetKey`.
pub fn cluster_name(port: u16, subset: &str, hostname: &str) -> String {
    format!("outbound_.{port}_.{subset}_.{hostname}")
}

/// The chain of an `AUTO_PASSTHROUGH` server whose hosts give `server_names` (none: every
/// name): no TLS of its own, `sni_cluster`, then a TCP proxy whose cluster the SNI replaces.
pub fn chain(server_names: Vec<String>) -> FilterChain {
    let sni_cluster = Filter {
        name: "envoy.filters.network.sni_cluster".to_string(),
        config_type: Some(ConfigType::TypedConfig(pack_any(SniCluster::default()))),
    };
    let tcp_proxy = TcpProxy {
        stat_prefix: BLACKHOLE_CLUSTER.to_string(),
        cluster_specifier: Some(ClusterSpecifier::Cluster(BLACKHOLE_CLUSTER.to_string())),
        idle_timeout: Some(duration(IDLE_TIMEOUT)),
        ..TcpProxy::default()
    };
    FilterChain {
        filter_chain_match: Some(FilterChainMatch {
            server_names,
            ..FilterChainMatch::default()
        }),
        filters: vec![
            sni_cluster,
            Filter {
                name: "envoy.filters.network.tcp_proxy".to_string(),
                config_type: Some(ConfigType::TypedConfig(pack_any(tcp_proxy))),
            },
        ],
        ..FilterChain::default()
    }
}

/// Adds the SNI-DNAT clusters and their load assignments, and `BlackHoleCluster`, which the
/// chains name. The services are those the proxy's namespace sees that the mesh runs and the
/// proxy balances over (`MESH_EXTERNAL` ServiceEntries are left out, as in Istio; services
/// resolved by DNS or passed through, wildcard hosts and UDP ports get no cluster, as for
/// sidecars). The DestinationRule is the one the gateway's namespace and labels pick.
pub fn add_clusters(snapshot: &Snapshot, proxy: &Proxy, out: &mut Resources) {
    let mut built = BTreeSet::new();
    for service in snapshot.visible_services(&proxy.namespace) {
        if service.resolution != Resolution::ClientSideLb
            || service.location != Location::MeshInternal
            || service.hostname.contains('*')
        {
            continue;
        }
        let rule = policy::destination_rule_for(snapshot, &proxy.namespace, &proxy.labels, service);
        for port in service.ports.iter().filter(|p| p.protocol != Protocol::Udp) {
            let subsets = policy::subsets(rule);
            for subset in std::iter::once(None).chain(subsets.iter().map(Some)) {
                let subset_name = subset.map_or("", |s| s.name.as_str());
                let name = cluster_name(port.number, subset_name, &service.hostname);
                // Two services of one hostname (in two namespaces): the first, in namespace
                // order, wins, as for the gateway's other clusters.
                if !built.insert(name.clone()) {
                    continue;
                }
                let policy = policy::Policy {
                    tls: None,
                    ..policy::policy(rule, subset, port.number)
                };
                let mut cluster = cluster::outbound(
                    service,
                    port.number,
                    subset_name,
                    port.protocol,
                    &policy,
                    snapshot.mesh(),
                );
                cluster.eds_cluster_config = Some(EdsClusterConfig {
                    service_name: name.clone(),
                    ..cluster.eds_cluster_config.unwrap_or_default()
                });
                cluster.name = name;
                super::push_with_assignment(out, cluster, service, port.number, subset);
            }
        }
    }
    out.clusters.push(cluster::blackhole());
}
