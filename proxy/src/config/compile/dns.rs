//! Resolving the hostnames of `STRICT_DNS` and `LOGICAL_DNS` clusters into endpoint sets.
//!
//! Hosts are resolved in the xDS client's task before the clusters are applied (the apply
//! itself is synchronous), and again every few seconds by [`refresh_dns_forever`], whatever the
//! cluster's `dns_refresh_rate` says. A host that stops resolving keeps its last addresses, as
//! in Envoy.

use std::{
    collections::{BTreeSet, HashMap},
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster,
    core::v3::{Address, SocketAddress, address, socket_address::PortSpecifier},
    endpoint::v3::{ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint},
};

use super::cluster::compile_cluster;
use crate::{
    balance::EndpointSet,
    config::{ClusterConfig, ConfigStore, Discovery, Snapshot},
};

/// The addresses each hostname of the DNS clusters resolved to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsAnswers {
    addresses: HashMap<String, Vec<IpAddr>>,
}

// === impl DnsAnswers ===

impl DnsAnswers {
    /// Resolves every hostname of the DNS clusters among `clusters` with the system resolver. A
    /// host that does not resolve has no answer: its cluster has no endpoints (`UH`) until the
    /// next update. Clusters that do not compile are skipped; applying them reports why.
    pub async fn resolve(clusters: &[Cluster]) -> Self {
        let configs: Vec<ClusterConfig> = clusters
            .iter()
            .filter_map(|c| compile_cluster(c).ok())
            .collect();
        Self::resolve_hosts(configs.iter().flat_map(hostnames).collect()).await
    }

    /// Resolves every hostname of the snapshot's DNS clusters.
    pub async fn resolve_snapshot(snapshot: &Snapshot) -> Self {
        Self::resolve_hosts(
            snapshot
                .clusters
                .values()
                .flat_map(|c| hostnames(c))
                .collect(),
        )
        .await
    }

    async fn resolve_hosts(hosts: BTreeSet<String>) -> Self {
        let mut answers = Self::default();
        for host in hosts {
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(found) => answers.insert(&host, found.map(|a| a.ip()).collect()),
                Err(error) => tracing::warn!(%host, %error, "DNS cluster host does not resolve"),
            }
        }
        answers
    }

    /// Records what `host` resolved to (tests and callers with their own resolver).
    pub fn insert(&mut self, host: &str, ips: Vec<IpAddr>) {
        self.addresses.insert(host.to_owned(), ips);
    }

    /// The endpoints of a DNS cluster, or `None` for other clusters and for DNS clusters none
    /// of whose hosts resolved. Endpoints of `previous` that stay keep their in-flight counts.
    pub(super) fn endpoints(
        &self,
        config: &ClusterConfig,
        previous: Option<&EndpointSet>,
    ) -> Option<EndpointSet> {
        let addresses: Vec<SocketAddr> = match &config.discovery {
            Discovery::StrictDns { hosts } => hosts
                .iter()
                .flat_map(|(host, port)| self.lookup(host).iter().map(|ip| (*ip, *port)))
                .map(SocketAddr::from)
                .collect(),
            Discovery::LogicalDns { host, port } => self
                .lookup(host)
                .first()
                .map(|ip| SocketAddr::new(*ip, *port))
                .into_iter()
                .collect(),
            _ => return None,
        };
        if addresses.is_empty() {
            return None;
        }
        // Built from IP addresses only, so it always compiles; a failure would mean a bug
        // here, and the cluster is then left without endpoints rather than half-applied.
        let assignment = assignment(&config.name, &addresses);
        match previous {
            Some(previous) => previous.update(&assignment).ok(),
            None => EndpointSet::compile(&assignment).ok(),
        }
    }

    fn lookup(&self, host: &str) -> &[IpAddr] {
        self.addresses.get(host).map_or(&[], Vec::as_slice)
    }
}

/// Gives the snapshot's DNS clusters the endpoints in `answers`. A cluster none of whose hosts
/// answered keeps what it had.
pub fn refresh_dns(snapshot: &mut Snapshot, answers: &DnsAnswers) {
    let refreshed: Vec<(String, EndpointSet)> = snapshot
        .clusters
        .values()
        .filter_map(|config| {
            let previous = snapshot.endpoints.get(&config.name).map(Arc::as_ref);
            Some((config.name.clone(), answers.endpoints(config, previous)?))
        })
        .collect();
    for (name, set) in refreshed {
        snapshot.endpoints.insert(name, Arc::new(set));
    }
}

/// Re-resolves the DNS clusters of `store` every `period` (Envoy's default `dns_refresh_rate`
/// is 5 s), forever: spawn it beside the xDS client.
pub async fn refresh_dns_forever(store: Arc<ConfigStore>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let answers = DnsAnswers::resolve_snapshot(&store.load()).await;
        // The refresh cannot fail; a cluster removed meanwhile is simply skipped.
        let _ = store.update(|snapshot| {
            refresh_dns(snapshot, &answers);
            Ok::<(), Infallible>(())
        });
    }
}

fn hostnames(config: &ClusterConfig) -> Vec<String> {
    match &config.discovery {
        Discovery::StrictDns { hosts } => hosts.iter().map(|(h, _)| h.clone()).collect(),
        Discovery::LogicalDns { host, .. } => vec![host.clone()],
        _ => Vec::new(),
    }
}

fn assignment(cluster: &str, addresses: &[SocketAddr]) -> ClusterLoadAssignment {
    let lb_endpoints = addresses
        .iter()
        .map(|a| LbEndpoint {
            host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: a.ip().to_string(),
                        port_specifier: Some(PortSpecifier::PortValue(u32::from(a.port()))),
                        ..SocketAddress::default()
                    })),
                }),
                ..Endpoint::default()
            })),
            ..LbEndpoint::default()
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: cluster.to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints,
            ..LocalityLbEndpoints::default()
        }],
        ..ClusterLoadAssignment::default()
    }
}
