//! A Sidecar's `ingress` listeners: when a workload's Sidecar declares them, its inbound ports
//! are theirs instead of its services', each forwarding to its `defaultEndpoint`, as Istio's
//! `buildInboundChainConfigs` and `buildInboundClustersFromSidecar` build them:
//!
//! - `127.0.0.1:PORT` / `[::1]:PORT`: the application on loopback (the other family when the
//!   proxy has no address of the one written);
//! - `0.0.0.0:PORT` / `[::]:PORT`: the application on the workload's own IPv4 (IPv6) address,
//!   else loopback;
//! - no `defaultEndpoint` (or no host in it): the address the client dialled, through an
//!   original-destination cluster.
//!
//! `unix://` endpoints need an upstream mesh-proxy does not have: such a port is not served,
//! and reported. The port's `connectionPool`, else the Sidecar's `inboundConnectionPool`,
//! shapes the cluster as a DestinationRule's shapes an outbound one.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster,
    cluster::{ClusterDiscoveryType, DiscoveryType, LbPolicy},
};
use mesh_common::api::ConnectionPoolSettings;

use super::super::{Proxy, cluster, egress::AppliedSidecar, endpoint, policy::Policy};
use crate::{
    mesh_config::MeshConfig,
    model::{DeclaredBy, ExportTo, Location, Protocol, Resolution, Service},
};

/// The ports, clusters and warnings of a Sidecar's ingress listeners.
#[derive(Debug, Default)]
pub(super) struct Ingress {
    pub ports: Vec<(u16, Protocol)>,
    pub clusters: Vec<Cluster>,
    pub warnings: Vec<String>,
}

/// Where an ingress listener forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// `address:port`.
    Static(String, u16),
    /// The client's original destination.
    OriginalDst,
}

/// The inbound ports of `sidecar`'s ingress listeners for `proxy`. `served` are the ports the
/// workload's services lead to, whose services label the cluster of the same port.
pub(super) fn ports(
    sidecar: AppliedSidecar,
    proxy: &Proxy,
    served: &BTreeMap<u16, (Vec<&Service>, Protocol)>,
) -> Ingress {
    let mut out = Ingress::default();
    for (i, listener) in sidecar.spec.ingress.iter().enumerate() {
        let number = listener.port.number;
        let what = format!(
            "Sidecar {}/{} ingress[{i}] (port {number})",
            sidecar.namespace, sidecar.name
        );
        let Some(port) = u16::try_from(number).ok().filter(|&p| p != 0) else {
            out.warnings
                .push(format!("{what}: not a TCP port; not served"));
            continue;
        };
        // An unknown or unset protocol is sniffed, as Istio's `protocol.Parse` leaves it.
        let protocol = Protocol::parse(&listener.port.protocol).unwrap_or(Protocol::Auto);
        if protocol == Protocol::Udp {
            out.warnings.push(format!(
                "{what}: UDP cannot be captured inbound; not served"
            ));
            continue;
        }
        let target = match target(&listener.default_endpoint, proxy) {
            Ok(target) => target,
            Err(why) => {
                out.warnings.push(format!("{what}: {why}; not served"));
                continue;
            }
        };
        let services = served.get(&port).map_or(&[][..], |(s, _)| s.as_slice());
        let mut cluster = cluster::inbound(port, services);
        if services.is_empty() {
            // Istio labels such a port with no service (a placeholder named after the Sidecar).
            cluster.metadata = None;
        }
        match target {
            Target::Static(address, target_port) => {
                cluster.load_assignment = Some(endpoint::static_assignment(
                    &cluster.name,
                    &address,
                    target_port,
                ));
            }
            Target::OriginalDst => {
                cluster.cluster_discovery_type = Some(ClusterDiscoveryType::Type(
                    DiscoveryType::OriginalDst as i32,
                ));
                cluster.lb_policy = LbPolicy::ClusterProvided as i32;
                cluster.load_assignment = None;
            }
        }
        let pool = listener
            .connection_pool
            .as_ref()
            .or(sidecar.spec.inbound_connection_pool.as_ref());
        out.clusters.push(pooled(cluster, protocol, pool));
        out.ports.push((port, protocol));
    }
    out.ports.sort_by_key(|(port, _)| *port);
    out
}

/// `defaultEndpoint` read as Istio reads it (validation has checked its form).
fn target(default_endpoint: &str, proxy: &Proxy) -> Result<Target, String> {
    if default_endpoint.starts_with("unix://") {
        return Err(format!(
            "defaultEndpoint {default_endpoint:?} is a unix socket, which mesh-proxy cannot forward to"
        ));
    }
    if default_endpoint.is_empty() {
        return Ok(Target::OriginalDst);
    }
    let invalid = || format!("defaultEndpoint {default_endpoint:?} is not HOST:PORT");
    let (host, port) = default_endpoint.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let own = |v6: bool| proxy.ips.iter().find(|ip| ip.contains(':') == v6).cloned();
    let has = |v6: bool| own(v6).is_some();
    let address = match host {
        "" => return Ok(Target::OriginalDst),
        "0.0.0.0" => own(false).unwrap_or_else(|| "127.0.0.1".to_string()),
        "::" => own(true).unwrap_or_else(|| "::1".to_string()),
        // Loopback of the family the proxy has, the one written first.
        "127.0.0.1" if !has(false) && has(true) => "::1".to_string(),
        "::1" if !has(true) => "127.0.0.1".to_string(),
        "127.0.0.1" | "::1" => host.to_string(),
        _ => return Err(invalid()),
    };
    Ok(Target::Static(address, port))
}

/// `cluster` shaped by `pool` as an outbound cluster is by a DestinationRule's connection pool
/// (connect timeout, circuit breakers, HTTP protocol options, TCP keepalive), except that
/// nothing is upgraded to HTTP/2: Istio applies `h2UpgradePolicy` outbound only.
pub(super) fn pooled(
    mut cluster: Cluster,
    protocol: Protocol,
    pool: Option<&ConnectionPoolSettings>,
) -> Cluster {
    let Some(pool) = pool else {
        return cluster;
    };
    let mut pool = pool.clone();
    if let Some(http) = pool.http.as_mut() {
        http.h2_upgrade_policy = None;
    }
    let policy = Policy {
        connection_pool: Some(pool),
        ..Policy::default()
    };
    // The outbound builder reads of the service only its name, which is not kept.
    let shaped = cluster::outbound(
        &placeholder(),
        0,
        "",
        protocol,
        &policy,
        &MeshConfig::default(),
    );
    cluster.connect_timeout = shaped.connect_timeout;
    cluster.circuit_breakers = shaped.circuit_breakers;
    cluster.typed_extension_protocol_options = shaped.typed_extension_protocol_options;
    cluster.upstream_connection_options = shaped.upstream_connection_options;
    cluster
}

fn placeholder() -> Service {
    Service {
        hostname: String::new(),
        namespace: String::new(),
        declared_by: DeclaredBy::Service(String::new()),
        addresses: Vec::new(),
        ports: Vec::new(),
        location: Location::MeshInternal,
        resolution: Resolution::ClientSideLb,
        export_to: ExportTo::All,
        subject_alt_names: Vec::new(),
        endpoints: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
