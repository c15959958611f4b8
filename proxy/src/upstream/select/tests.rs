use std::{collections::HashMap, sync::Arc, time::Duration};

use envoy_types::pb::envoy::config::{
    core::v3::{Address, SocketAddress, address, socket_address::PortSpecifier},
    endpoint::v3::{ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint},
};
use rand::{SeedableRng, rngs::SmallRng};

use super::*;
use crate::{
    balance::{Algorithm, EndpointSet},
    config::UpstreamProtocol,
};

fn cluster(name: &str, discovery: Discovery) -> Arc<ClusterConfig> {
    Arc::new(ClusterConfig {
        name: name.to_owned(),
        discovery,
        algorithm: Algorithm::RoundRobin,
        connect_timeout: Duration::from_secs(1),
        protocol: UpstreamProtocol::Http1,
        service: Default::default(),
        breaker: Default::default(),
        outlier: None,
        panic_threshold: 0,
        connection: Default::default(),
        tls: None,
    })
}

fn assignment(cluster: &str, ports: &[u32]) -> ClusterLoadAssignment {
    let lb_endpoints = ports
        .iter()
        .map(|port| LbEndpoint {
            host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: "127.0.0.1".into(),
                        port_specifier: Some(PortSpecifier::PortValue(*port)),
                        ..Default::default()
                    })),
                }),
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: cluster.into(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn snapshot() -> Snapshot {
    let eds = cluster(
        "reviews",
        Discovery::Eds {
            service_name: "reviews".into(),
        },
    );
    let warming = cluster(
        "ratings",
        Discovery::Eds {
            service_name: "ratings".into(),
        },
    );
    let passthrough = cluster("PassthroughCluster", Discovery::OriginalDst);
    let endpoints = EndpointSet::compile(&assignment("reviews", &[9081, 9082])).unwrap();
    Snapshot {
        clusters: HashMap::from([
            ("reviews".to_owned(), eds),
            ("ratings".to_owned(), warming),
            ("PassthroughCluster".to_owned(), passthrough),
        ]),
        endpoints: HashMap::from([("reviews".to_owned(), Arc::new(endpoints))]),
        ..Snapshot::default()
    }
}

#[test]
fn eds_clusters_balance_over_their_endpoints() {
    let snapshot = snapshot();
    let mut rng = SmallRng::seed_from_u64(7);
    let mut ports: Vec<u16> = (0..4)
        .map(|_| {
            select_endpoint(&snapshot, "reviews", None, &mut rng)
                .unwrap()
                .address
                .port()
        })
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, [9081, 9081, 9082, 9082]);
}

#[test]
fn a_selection_counts_as_in_flight_until_dropped() {
    let snapshot = snapshot();
    let mut rng = SmallRng::seed_from_u64(7);
    let selected = select_endpoint(&snapshot, "reviews", None, &mut rng).unwrap();
    let endpoints = &snapshot.endpoints["reviews"];
    let busy = endpoints
        .endpoints()
        .iter()
        .find(|e| e.address == selected.address)
        .unwrap();
    assert_eq!(busy.in_flight(), 1);
    drop(selected);
    assert_eq!(busy.in_flight(), 0);
}

#[test]
fn original_dst_clusters_connect_to_the_original_destination() {
    let snapshot = snapshot();
    let mut rng = SmallRng::seed_from_u64(7);
    let target = "198.19.0.9:27017".parse().unwrap();
    let selected =
        select_endpoint(&snapshot, "PassthroughCluster", Some(target), &mut rng).unwrap();
    assert_eq!(selected.address, target);
    assert!(selected.in_flight.is_none());
    assert_eq!(
        select_endpoint(&snapshot, "PassthroughCluster", None, &mut rng).unwrap_err(),
        UpstreamError::NoOriginalDestination("PassthroughCluster".into())
    );
}

#[test]
fn failures_name_the_cluster_and_set_envoys_flags() {
    let snapshot = snapshot();
    let mut rng = SmallRng::seed_from_u64(7);
    let unknown = select_endpoint(&snapshot, "nope", None, &mut rng).unwrap_err();
    assert_eq!(unknown, UpstreamError::NoCluster("nope".into()));
    assert_eq!(unknown.response_flag().code(), "NC");
    let warming = select_endpoint(&snapshot, "ratings", None, &mut rng).unwrap_err();
    assert_eq!(warming, UpstreamError::NoHealthyUpstream("ratings".into()));
    assert_eq!(warming.response_flag().code(), "UH");
}
