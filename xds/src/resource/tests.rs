use envoy_types::pb::envoy::config::core::v3::{
    Address, SocketAddress, address, socket_address::PortSpecifier,
};
use pretty_assertions::assert_eq;
use prost::Name;

use super::*;

fn listener() -> Listener {
    Listener {
        name: "0.0.0.0_9080".to_string(),
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: "0.0.0.0".to_string(),
                port_specifier: Some(PortSpecifier::PortValue(9080)),
                ..Default::default()
            })),
        }),
        ..Default::default()
    }
}

#[test]
fn type_urls_are_the_messages_own() {
    let urls: Vec<(ResourceType, String)> = ResourceType::ALL
        .into_iter()
        .map(|kind| (kind, kind.type_url().to_string()))
        .collect();
    assert_eq!(
        urls,
        [
            (ResourceType::Cluster, Cluster::type_url()),
            (
                ResourceType::ClusterLoadAssignment,
                ClusterLoadAssignment::type_url()
            ),
            (ResourceType::Listener, Listener::type_url()),
            (
                ResourceType::RouteConfiguration,
                RouteConfiguration::type_url()
            ),
            (ResourceType::Secret, Secret::type_url()),
        ]
    );
    assert_eq!(
        ResourceType::ALL.map(ResourceType::type_url),
        mesh_common::xds::PUSH_ORDER
    );
}

#[test]
fn type_urls_read_back() {
    for kind in ResourceType::ALL {
        assert_eq!(ResourceType::from_type_url(kind.type_url()), Some(kind));
    }
    assert_eq!(
        ResourceType::from_type_url("type.googleapis.com/envoy.config.cluster.v3.Clusters"),
        None
    );
    assert_eq!(
        ResourceType::ClusterLoadAssignment.short_name(),
        "ClusterLoadAssignment"
    );
}

#[test]
fn packs_and_decodes_each_kind() {
    let resources = [
        Resource::from(listener()),
        Resource::from(RouteConfiguration {
            name: "9080".to_string(),
            ..Default::default()
        }),
        Resource::from(Cluster {
            name: "outbound|9080||reviews.default.svc.cluster.local".to_string(),
            ..Default::default()
        }),
        Resource::from(ClusterLoadAssignment {
            cluster_name: "outbound|9080||reviews.default.svc.cluster.local".to_string(),
            ..Default::default()
        }),
        Resource::from(Secret {
            name: "default".to_string(),
            ..Default::default()
        }),
    ];
    let names: Vec<(ResourceType, String)> = resources
        .iter()
        .map(|r| (r.resource_type(), r.name().to_string()))
        .collect();
    assert_eq!(
        names,
        [
            (ResourceType::Listener, "0.0.0.0_9080".to_string()),
            (ResourceType::RouteConfiguration, "9080".to_string()),
            (
                ResourceType::Cluster,
                "outbound|9080||reviews.default.svc.cluster.local".to_string()
            ),
            (
                ResourceType::ClusterLoadAssignment,
                "outbound|9080||reviews.default.svc.cluster.local".to_string()
            ),
            (ResourceType::Secret, "default".to_string()),
        ]
    );
    for resource in resources {
        let kind = resource.resource_type();
        let any = Any::from(resource.clone());
        assert_eq!(any.type_url, kind.type_url());
        assert_eq!(Resource::try_from(&any).unwrap(), resource);
    }
}

#[test]
fn listener_packs_to_its_wire_bytes() {
    let any = Resource::from(listener()).into_any();
    assert_eq!(any.value, listener().encode_to_vec());
}

#[test]
fn unsupported_type_is_named() {
    let any = Any {
        type_url: "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration".to_string(),
        value: Vec::new(),
    };
    assert_eq!(
        Resource::decode_any(&any).unwrap_err().to_string(),
        "unsupported xDS resource type \
         \"type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration\""
    );
}

#[test]
fn malformed_bytes_name_the_type() {
    let any = Any {
        type_url: mesh_common::xds::CLUSTER.to_string(),
        // Field 1 (name), length-delimited, claiming 5 bytes where there is 1.
        value: vec![0x0a, 0x05, b'a'],
    };
    let error = Resource::decode_any(&any).unwrap_err();
    assert!(
        error.to_string().starts_with(
            "malformed type.googleapis.com/envoy.config.cluster.v3.Cluster resource: "
        ),
        "{error}"
    );
    assert!(matches!(error, ResourceError::Decode { .. }));
}
