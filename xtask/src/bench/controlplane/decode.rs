//! What a simulated sidecar reads from the resources it is sent: the EDS names of clusters,
//! the RDS names of listeners, and whether a load assignment holds an address. Only as much
//! is decoded as that needs, since a thousand sidecars share one CPU.

use std::{collections::BTreeSet, net::Ipv4Addr};

use envoy_types::pb::{
    envoy::{
        config::{
            cluster::v3::{
                Cluster,
                cluster::{ClusterDiscoveryType, DiscoveryType},
            },
            core::v3::{address, socket_address},
            endpoint::v3::{ClusterLoadAssignment, lb_endpoint::HostIdentifier},
            listener::v3::{Listener, filter::ConfigType},
        },
        extensions::filters::network::http_connection_manager::v3::{
            HttpConnectionManager, http_connection_manager::RouteSpecifier,
        },
    },
    google::protobuf::Any,
};
use prost::Message as _;

/// The type URL of the HTTP connection manager inside a listener's filter.
const HCM_TYPE_URL: &str = "type.googleapis.com/envoy.extensions.filters.network.\
                            http_connection_manager.v3.HttpConnectionManager";

/// Field 1 of a message, which is the name of both a Cluster and a ClusterLoadAssignment;
/// decoding only it skips over the rest without building it.
#[derive(Clone, PartialEq, prost::Message)]
struct FirstName {
    #[prost(string, tag = "1")]
    name: String,
}

/// The name in field 1 of a packed Cluster or ClusterLoadAssignment.
pub fn packed_name(any: &Any) -> Result<String, prost::DecodeError> {
    FirstName::decode(any.value.as_slice()).map(|first| first.name)
}

/// The EDS service name of a packed cluster, if it is an EDS cluster: its
/// `eds_cluster_config.service_name`, else its own name, as Envoy asks for it.
pub fn eds_name(any: &Any) -> Result<Option<String>, prost::DecodeError> {
    let cluster = Cluster::decode(any.value.as_slice())?;
    let eds = cluster.cluster_discovery_type
        == Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32));
    if !eds {
        return Ok(None);
    }
    let service_name = cluster
        .eds_cluster_config
        .map(|config| config.service_name)
        .filter(|name| !name.is_empty());
    Ok(Some(service_name.unwrap_or(cluster.name)))
}

/// The route configurations a packed listener's HTTP connection managers load over RDS.
pub fn route_names(any: &Any) -> Result<BTreeSet<String>, prost::DecodeError> {
    let listener = Listener::decode(any.value.as_slice())?;
    let mut names = BTreeSet::new();
    let chains = listener
        .filter_chains
        .iter()
        .chain(listener.default_filter_chain.as_ref());
    for filter in chains.flat_map(|chain| &chain.filters) {
        let Some(ConfigType::TypedConfig(config)) = &filter.config_type else {
            continue;
        };
        if config.type_url != HCM_TYPE_URL {
            continue;
        }
        let manager = HttpConnectionManager::decode(config.value.as_slice())?;
        if let Some(RouteSpecifier::Rds(rds)) = manager.route_specifier {
            names.insert(rds.route_config_name);
        }
    }
    Ok(names)
}

/// The IPv4 endpoint addresses of a packed load assignment.
pub fn endpoint_addresses(any: &Any) -> Result<BTreeSet<Ipv4Addr>, prost::DecodeError> {
    let assignment = ClusterLoadAssignment::decode(any.value.as_slice())?;
    let addresses = assignment
        .endpoints
        .iter()
        .flat_map(|locality| &locality.lb_endpoints)
        .filter_map(|endpoint| match &endpoint.host_identifier {
            Some(HostIdentifier::Endpoint(endpoint)) => endpoint.address.as_ref(),
            _ => None,
        })
        .filter_map(|address| match &address.address {
            Some(address::Address::SocketAddress(socket)) => match &socket.port_specifier {
                Some(socket_address::PortSpecifier::PortValue(_)) | None => {
                    socket.address.parse().ok()
                }
                Some(_) => None,
            },
            _ => None,
        })
        .collect();
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::{
        cluster::v3::cluster::EdsClusterConfig,
        core::v3::{Address, SocketAddress},
        endpoint::v3::{Endpoint, LbEndpoint, LocalityLbEndpoints},
        listener::v3::{Filter, FilterChain},
    };
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::Rds;
    use mesh_xds::Resource;

    use super::*;

    fn packed(resource: impl Into<Resource>) -> Any {
        resource.into().into_any()
    }

    #[test]
    fn eds_clusters_are_asked_for_by_service_name_or_name() {
        let eds = |service_name: &str| Cluster {
            name: "outbound|9080||a.ns.svc.cluster.local".into(),
            cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
            eds_cluster_config: Some(EdsClusterConfig {
                service_name: service_name.into(),
                ..EdsClusterConfig::default()
            }),
            ..Cluster::default()
        };
        assert_eq!(
            eds_name(&packed(eds(""))).unwrap().as_deref(),
            Some("outbound|9080||a.ns.svc.cluster.local")
        );
        assert_eq!(
            eds_name(&packed(eds("other"))).unwrap().as_deref(),
            Some("other")
        );
        assert_eq!(packed_name(&packed(eds("other"))).unwrap(), eds("").name);
        let passthrough = Cluster {
            name: "PassthroughCluster".into(),
            ..Cluster::default()
        };
        assert_eq!(eds_name(&packed(passthrough)).unwrap(), None);
    }

    #[test]
    fn listeners_name_their_rds_routes() {
        let manager = HttpConnectionManager {
            route_specifier: Some(RouteSpecifier::Rds(Rds {
                route_config_name: "9080".into(),
                ..Rds::default()
            })),
            ..HttpConnectionManager::default()
        };
        let filter = Filter {
            name: "envoy.filters.network.http_connection_manager".into(),
            config_type: Some(ConfigType::TypedConfig(Any {
                type_url: HCM_TYPE_URL.into(),
                value: manager.encode_to_vec(),
            })),
        };
        let listener = Listener {
            name: "0.0.0.0_9080".into(),
            filter_chains: vec![FilterChain {
                filters: vec![filter],
                ..FilterChain::default()
            }],
            ..Listener::default()
        };
        assert_eq!(
            route_names(&packed(listener)).unwrap(),
            BTreeSet::from(["9080".to_string()])
        );
        assert!(
            route_names(&packed(Listener::default()))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn load_assignments_list_their_addresses() {
        let endpoint = |ip: &str| LbEndpoint {
            host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: ip.into(),
                        port_specifier: Some(socket_address::PortSpecifier::PortValue(9080)),
                        ..SocketAddress::default()
                    })),
                }),
                ..Endpoint::default()
            })),
            ..LbEndpoint::default()
        };
        let assignment = ClusterLoadAssignment {
            cluster_name: "outbound|9080||a.ns.svc.cluster.local".into(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![endpoint("198.18.0.1"), endpoint("198.18.1.2")],
                ..LocalityLbEndpoints::default()
            }],
            ..ClusterLoadAssignment::default()
        };
        let any = packed(assignment);
        assert_eq!(
            packed_name(&any).unwrap(),
            "outbound|9080||a.ns.svc.cluster.local"
        );
        assert_eq!(
            endpoint_addresses(&any).unwrap(),
            BTreeSet::from([Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 1, 2)])
        );
    }
}
