//! Clusters: one per service port and per DestinationRule subset, the workload's inbound
//! ports, and the two catch-alls for traffic to unknown hosts.

use envoy_types::pb::envoy::{
    config::{
        cluster::v3::{
            Cluster,
            cluster::{
                ClusterDiscoveryType, CommonLbConfig, DiscoveryType, EdsClusterConfig, LbConfig,
                LbPolicy, MaglevLbConfig, RingHashLbConfig,
            },
        },
        core::v3::{
            AggregatedConfigSource, ApiVersion, ConfigSource, config_source::ConfigSourceSpecifier,
        },
        endpoint::v3::ClusterLoadAssignment,
    },
    r#type::v3::Percent,
};
use envoy_types::pb::google::protobuf::UInt64Value;
use mesh_common::api::{ConnectionPoolSettings, H2UpgradePolicy, SimpleLb};

use super::{
    BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER, cluster_name, duration, endpoint, metadata,
    policy::Policy, resilience,
};
use crate::{
    mesh_config::{self, MeshConfig},
    model::{Protocol, Service},
};

mod protocol;
mod tls;

/// Istio's connect timeout when `connectionPool.tcp.connectTimeout` is unset.
const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Envoy's (and Istio's) ring size when a consistent hash names none.
const DEFAULT_MIN_RING_SIZE: u64 = 1024;

/// The EDS cluster of one port of a service, or of one subset of it.
pub fn outbound(
    service: &Service,
    port: u16,
    subset: &str,
    protocol: Protocol,
    policy: &Policy,
    mesh: &MeshConfig,
) -> Cluster {
    let name = cluster_name(port, subset, &service.hostname);
    let mut cluster = Cluster {
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: name.clone(),
        }),
        name,
        metadata: Some(metadata::services([service])),
        ..Cluster::default()
    };
    let connect_timeout = policy
        .connection_pool
        .as_ref()
        .and_then(|p| p.tcp.as_ref())
        .and_then(|t| t.connect_timeout.as_ref())
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    cluster.connect_timeout = Some(duration(connect_timeout));
    let (lb_policy, lb_config) = load_balancing(policy);
    cluster.lb_policy = lb_policy as i32;
    cluster.lb_config = lb_config;
    cluster.circuit_breakers = Some(resilience::circuit_breakers(
        policy.connection_pool.as_ref(),
    ));
    cluster.outlier_detection = resilience::outlier_detection(policy.outlier_detection.as_ref());
    if let Some(outlier) = &policy.outlier_detection {
        // Istio's minHealthPercent, 0 (no panic mode) unless set: below it, Envoy balances over
        // every endpoint, ejected or not. Always sent, as Envoy's own default is 50.
        let percent = outlier.min_health_percent.unwrap_or(0).clamp(0, 100);
        cluster.common_lb_config = Some(CommonLbConfig {
            healthy_panic_threshold: Some(Percent {
                value: f64::from(percent),
            }),
            ..CommonLbConfig::default()
        });
    }
    let pool = policy.connection_pool.as_ref();
    cluster.typed_extension_protocol_options = protocol::typed_options(protocol, pool, mesh);
    cluster.upstream_connection_options = protocol::upstream_connection_options(pool);
    let h2 = protocol::explicit_h2(protocol, pool, mesh);
    match tls::origination(policy.tls.as_ref(), h2) {
        tls::Origination::Plaintext => {}
        tls::Origination::Tls(socket) => cluster.transport_socket = Some(*socket),
        tls::Origination::Unserved => hold_back(&mut cluster),
    }
    cluster
}

/// Takes the endpoints away from a cluster whose TLS cannot be originated yet, so that its
/// requests fail (503, no healthy upstream) instead of leaving in plaintext. The rest of the
/// cluster stays, so that routes and stats keep their names.
fn hold_back(cluster: &mut Cluster) {
    cluster.cluster_discovery_type = Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32));
    cluster.eds_cluster_config = None;
    cluster.load_assignment = Some(ClusterLoadAssignment {
        cluster_name: cluster.name.clone(),
        ..ClusterLoadAssignment::default()
    });
}

/// Istio's `shouldH2Upgrade`: a DestinationRule's `h2UpgradePolicy` decides for HTTP/1 ports
/// and ports whose protocol is sniffed (naming `UPGRADE` says the port is HTTP); without one,
/// the mesh's policy upgrades declared HTTP/1 ports only. Ports of other protocols are never
/// upgraded — HTTP/2 and gRPC ports speak HTTP/2 already, and the rest are not HTTP.
fn h2_upgrade(
    protocol: Protocol,
    pool: Option<&ConnectionPoolSettings>,
    mesh: &MeshConfig,
) -> bool {
    let http1 = matches!(protocol, Protocol::Http | Protocol::GrpcWeb);
    match pool
        .and_then(|p| p.http.as_ref())
        .and_then(|h| h.h2_upgrade_policy)
    {
        Some(H2UpgradePolicy::Upgrade) => http1 || protocol == Protocol::Auto,
        Some(H2UpgradePolicy::DoNotUpgrade) => false,
        Some(H2UpgradePolicy::Default) | None => {
            http1 && mesh.h2_upgrade_policy == mesh_config::H2UpgradePolicy::Upgrade
        }
    }
}

/// The cluster of one of the workload's own ports, which serves `services` on it: straight to
/// the application on loopback.
pub fn inbound(port: u16, services: &[&Service]) -> Cluster {
    let name = format!("inbound|{port}||");
    Cluster {
        metadata: Some(metadata::services(services.iter().copied())),
        load_assignment: Some(endpoint::static_assignment(&name, "127.0.0.1", port)),
        name,
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32)),
        connect_timeout: Some(duration(DEFAULT_CONNECT_TIMEOUT)),
        ..Cluster::default()
    }
}

/// Forwards to the address the client dialled, for hosts the registry does not know
/// (`ALLOW_ANY`).
pub fn passthrough() -> Cluster {
    Cluster {
        name: PASSTHROUGH_CLUSTER.to_string(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(
            DiscoveryType::OriginalDst as i32,
        )),
        lb_policy: LbPolicy::ClusterProvided as i32,
        connect_timeout: Some(duration(DEFAULT_CONNECT_TIMEOUT)),
        ..Cluster::default()
    }
}

/// Has no endpoints, so every connection to it fails (`REGISTRY_ONLY`).
pub fn blackhole() -> Cluster {
    Cluster {
        name: BLACKHOLE_CLUSTER.to_string(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32)),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: BLACKHOLE_CLUSTER.to_string(),
            ..ClusterLoadAssignment::default()
        }),
        connect_timeout: Some(duration(DEFAULT_CONNECT_TIMEOUT)),
        ..Cluster::default()
    }
}

/// Endpoints come on the ADS stream the proxy already has open.
fn ads() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        resource_api_version: ApiVersion::V3 as i32,
        ..ConfigSource::default()
    }
}

/// `LEAST_CONN` is Istio's deprecated name for least-request. `UNSPECIFIED` (or no
/// `loadBalancer`) is Istio's default, which is least-request too; `PASSTHROUGH` needs
/// original-destination clusters, which this translation does not build, and keeps it as well.
///
/// A `consistentHash` wins over `simple`, as in Istio's `ApplyRingHashLoadBalancer`: `maglev`
/// gives `MAGLEV` (with its `tableSize`, if not 0), `ringHash` gives `RING_HASH` (with its
/// `minimumRingSize`, if not 0), and neither gives `RING_HASH` with the deprecated
/// `minimumRingSize`, else 1024.
fn load_balancing(policy: &Policy) -> (LbPolicy, Option<LbConfig>) {
    let lb = policy.load_balancer.as_ref();
    if let Some(hash) = lb.and_then(|lb| lb.consistent_hash.as_ref()) {
        let ring = |size: u64| {
            LbConfig::RingHashLbConfig(RingHashLbConfig {
                minimum_ring_size: Some(UInt64Value { value: size }),
                ..RingHashLbConfig::default()
            })
        };
        return match (&hash.maglev, &hash.ring_hash) {
            (Some(maglev), _) => (
                LbPolicy::Maglev,
                maglev.table_size.filter(|&t| t != 0).map(|value| {
                    LbConfig::MaglevLbConfig(MaglevLbConfig {
                        table_size: Some(UInt64Value { value }),
                    })
                }),
            ),
            (None, Some(ring_hash)) => (
                LbPolicy::RingHash,
                ring_hash.minimum_ring_size.filter(|&m| m != 0).map(ring),
            ),
            (None, None) => {
                let size = hash.minimum_ring_size.filter(|&m| m != 0);
                (
                    LbPolicy::RingHash,
                    Some(ring(size.unwrap_or(DEFAULT_MIN_RING_SIZE))),
                )
            }
        };
    }
    let simple = match lb.and_then(|lb| lb.simple) {
        Some(SimpleLb::RoundRobin) => LbPolicy::RoundRobin,
        Some(SimpleLb::Random) => LbPolicy::Random,
        _ => LbPolicy::LeastRequest,
    };
    (simple, None)
}

#[cfg(test)]
mod tests;
