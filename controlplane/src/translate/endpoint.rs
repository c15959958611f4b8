//! ClusterLoadAssignments: a service's endpoints for one port, grouped by locality.

use std::{collections::BTreeMap, sync::Arc};

use envoy_types::pb::{
    envoy::config::{
        core::v3::{
            Address, HealthStatus, Locality as EnvoyLocality, SocketAddress, address,
            socket_address::PortSpecifier,
        },
        endpoint::v3::{
            ClusterLoadAssignment, Endpoint as EnvoyEndpoint, LbEndpoint, LocalityLbEndpoints,
            lb_endpoint::HostIdentifier,
        },
    },
    google::protobuf::UInt32Value,
};

use super::{EgressScope, Proxy, cluster_name, metadata, policy};
use crate::model::{Endpoint, Health, Locality, Protocol, Resolution, Service, Snapshot};

/// What one load assignment is made of: the endpoints of `service` that serve `port` and carry
/// every label of `subset`, under the name `cluster_name`. [`AssignmentSource::assignment`] is
/// a pure function of it, so that sources that are [the same](AssignmentSource::same) make equal
/// assignments: a service that kept its `Arc` across snapshots kept its assignments too.
#[derive(Clone, Debug)]
pub struct AssignmentSource {
    pub cluster_name: String,
    pub service: Arc<Service>,
    pub port: u16,
    pub subset: BTreeMap<String, String>,
}

// === impl AssignmentSource ===

impl AssignmentSource {
    /// The load assignment it makes.
    pub fn assignment(&self) -> ClusterLoadAssignment {
        assignment(&self.cluster_name, &self.service, self.port, &self.subset)
    }

    /// Whether `other` makes the same assignment: the very same service (by pointer, not by
    /// content, which would cost as much as making it), port, subset and name.
    pub fn same(&self, other: &AssignmentSource) -> bool {
        Arc::ptr_eq(&self.service, &other.service)
            && self.port == other.port
            && self.cluster_name == other.cluster_name
            && self.subset == other.subset
    }
}

/// The load assignments of a sidecar's outbound side: one per EDS cluster that
/// [`sidecar_outbound`](super::sidecar_outbound) makes, in name order, read with the same
/// filters. What [`sidecar_sources`] names, made.
#[cfg(test)]
pub fn sidecar(
    snapshot: &Snapshot,
    proxy: &Proxy,
    scope: &EgressScope,
) -> Vec<ClusterLoadAssignment> {
    sources(snapshot, proxy, scope)
        .iter()
        .map(AssignmentSource::assignment)
        .collect()
}

/// What each load assignment of [`sidecar_outbound`](super::sidecar_outbound) is made of, in
/// the same (name) order and read with the same filters, without making any: a group of
/// sidecars reached by an endpoint change makes only those whose service changed, and shares
/// them with the other groups.
pub fn sidecar_sources(snapshot: &Snapshot, proxy: &Proxy) -> Vec<AssignmentSource> {
    sources(snapshot, proxy, &EgressScope::for_proxy(snapshot, proxy))
}

fn sources(snapshot: &Snapshot, proxy: &Proxy, scope: &EgressScope) -> Vec<AssignmentSource> {
    let mut out = Vec::new();
    for service in snapshot.visible_services(&proxy.namespace) {
        if service.resolution != Resolution::ClientSideLb || service.hostname.contains('*') {
            continue;
        }
        let rule = policy::destination_rule_for(snapshot, &proxy.namespace, &proxy.labels, service);
        for port in service.ports.iter().filter(|p| {
            p.protocol != Protocol::Udp
                && scope.admits_service(&service.namespace, &service.hostname, p.number)
        }) {
            out.push(AssignmentSource {
                cluster_name: cluster_name(port.number, "", &service.hostname),
                service: Arc::clone(service),
                port: port.number,
                subset: BTreeMap::new(),
            });
            for subset in policy::subsets(rule) {
                out.push(AssignmentSource {
                    cluster_name: cluster_name(port.number, &subset.name, &service.hostname),
                    service: Arc::clone(service),
                    port: port.number,
                    subset: subset.labels.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.cluster_name.cmp(&b.cluster_name));
    out
}

/// The endpoints of `service` that serve `port` and carry every label of `subset_labels`.
pub fn assignment(
    cluster_name: &str,
    service: &Service,
    port: u16,
    subset_labels: &BTreeMap<String, String>,
) -> ClusterLoadAssignment {
    let mut by_locality: BTreeMap<&Locality, Vec<LbEndpoint>> = BTreeMap::new();
    for endpoint in &service.endpoints {
        let Some(&target) = endpoint.ports.get(&port) else {
            continue;
        };
        if subset_labels
            .iter()
            .any(|(k, v)| endpoint.labels.get(k) != Some(v))
        {
            continue;
        }
        by_locality
            .entry(&endpoint.locality)
            .or_default()
            .push(lb_endpoint(endpoint, target));
    }
    ClusterLoadAssignment {
        cluster_name: cluster_name.to_string(),
        endpoints: by_locality
            .into_iter()
            .map(|(locality, lb_endpoints)| LocalityLbEndpoints {
                locality: Some(EnvoyLocality {
                    region: locality.region.clone(),
                    zone: locality.zone.clone(),
                    sub_zone: locality.subzone.clone(),
                }),
                lb_endpoints,
                ..LocalityLbEndpoints::default()
            })
            .collect(),
        ..ClusterLoadAssignment::default()
    }
}

/// One endpoint at `address:port`, for static clusters.
pub fn static_assignment(cluster_name: &str, address: &str, port: u16) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: cluster_name.to_string(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: vec![LbEndpoint {
                host_identifier: Some(HostIdentifier::Endpoint(EnvoyEndpoint {
                    address: Some(socket_address(address, port)),
                    ..EnvoyEndpoint::default()
                })),
                ..LbEndpoint::default()
            }],
            ..LocalityLbEndpoints::default()
        }],
        ..ClusterLoadAssignment::default()
    }
}

/// A TCP socket address.
pub fn socket_address(address: &str, port: u16) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: address.to_string(),
            port_specifier: Some(PortSpecifier::PortValue(u32::from(port))),
            ..SocketAddress::default()
        })),
    }
}

fn lb_endpoint(endpoint: &Endpoint, port: u16) -> LbEndpoint {
    let health = match endpoint.health {
        Health::Healthy => HealthStatus::Healthy,
        Health::Draining => HealthStatus::Draining,
        Health::Unhealthy => HealthStatus::Unhealthy,
    };
    LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(EnvoyEndpoint {
            address: Some(socket_address(&endpoint.address, port)),
            ..EnvoyEndpoint::default()
        })),
        health_status: health as i32,
        load_balancing_weight: Some(UInt32Value {
            value: endpoint.weight.max(1),
        }),
        metadata: metadata::workload(endpoint),
    }
}
