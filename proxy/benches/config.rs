//! The config path: xDS resources, as they arrive on the wire, decoded and compiled into the
//! proxy's configuration (what one push costs a sidecar), and protocol detection on the first
//! bytes of a connection (what every captured connection pays once).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use envoy_types::pb::{
    envoy::config::{
        cluster::v3::{
            Cluster,
            cluster::{ClusterDiscoveryType, DiscoveryType, EdsClusterConfig},
        },
        core::v3::{
            Address, AggregatedConfigSource, ConfigSource, SocketAddress, address,
            config_source::ConfigSourceSpecifier, socket_address::PortSpecifier,
        },
        endpoint::v3::{
            ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
            lb_endpoint::HostIdentifier,
        },
        route::v3::{
            Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, route::Action,
            route_action::ClusterSpecifier, route_match::PathSpecifier,
        },
    },
    google::protobuf::{Any, Duration},
};
use mesh_proxy::{
    config::{DnsAnswers, Snapshot, apply_clusters, apply_endpoints, apply_routes},
    detect::{Detection, Protocol, detect},
};
use mesh_xds::resource::Resource;

/// Services in the simulated mesh: what a sidecar without a Sidecar resource receives.
const SERVICES: usize = 1_000;
/// Endpoints per service.
const ENDPOINTS: usize = 10;

fn host(i: usize) -> String {
    format!("svc-{i}.default.svc.cluster.local")
}

fn cluster_name(i: usize) -> String {
    format!("outbound|9080||{}", host(i))
}

fn eds_cluster(i: usize) -> Cluster {
    Cluster {
        name: cluster_name(i),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds.into())),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ConfigSource {
                config_source_specifier: Some(ConfigSourceSpecifier::Ads(
                    AggregatedConfigSource::default(),
                )),
                ..Default::default()
            }),
            service_name: cluster_name(i),
        }),
        connect_timeout: Some(Duration {
            seconds: 10,
            nanos: 0,
        }),
        ..Default::default()
    }
}

fn assignment(i: usize) -> ClusterLoadAssignment {
    let endpoint = |j: usize| LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: format!("10.{}.{}.{}", i / 256 % 256, i % 256, j + 1),
                    port_specifier: Some(PortSpecifier::PortValue(9080)),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    ClusterLoadAssignment {
        cluster_name: cluster_name(i),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: (0..ENDPOINTS).map(endpoint).collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Istio's outbound route configuration for port 9080: one virtual host per service.
fn routes() -> RouteConfiguration {
    let virtual_hosts = (0..SERVICES)
        .map(|i| VirtualHost {
            name: format!("{}:9080", host(i)),
            domains: vec![host(i), format!("{}:9080", host(i)), format!("svc-{i}")],
            routes: vec![Route {
                r#match: Some(RouteMatch {
                    path_specifier: Some(PathSpecifier::Prefix("/".into())),
                    ..Default::default()
                }),
                action: Some(Action::Route(RouteAction {
                    cluster_specifier: Some(ClusterSpecifier::Cluster(cluster_name(i))),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    RouteConfiguration {
        name: "9080".into(),
        virtual_hosts,
        ..Default::default()
    }
}

/// Resources as a discovery response carries them.
fn wire(resources: impl IntoIterator<Item = Resource>) -> Vec<Any> {
    resources.into_iter().map(Resource::into_any).collect()
}

/// Decodes every `Any` into its resource type, as the xDS client does first.
fn decode<T>(wire: &[Any], pick: fn(Resource) -> Option<T>) -> Vec<T> {
    wire.iter()
        .filter_map(|any| Resource::decode_any(any).ok().and_then(pick))
        .collect()
}

fn push(c: &mut Criterion) {
    let clusters = wire((0..SERVICES).map(|i| Resource::Cluster(Box::new(eds_cluster(i)))));
    let assignments =
        wire((0..SERVICES).map(|i| Resource::ClusterLoadAssignment(Box::new(assignment(i)))));
    let route_config = wire([Resource::RouteConfiguration(Box::new(routes()))]);
    let dns = DnsAnswers::default();

    c.bench_function("xds/1k_clusters/decode_compile", |b| {
        b.iter(|| {
            let clusters = decode(&clusters, |r| match r {
                Resource::Cluster(c) => Some(*c),
                _ => None,
            });
            let mut snapshot = Snapshot::default();
            let applied = apply_clusters(&mut snapshot, &clusters, &[], &dns);
            black_box((applied.is_ok(), snapshot))
        });
    });

    // Endpoints apply to clusters that exist: a snapshot holding the clusters is set up
    // outside the measurement.
    let with_clusters = {
        let clusters = decode(&clusters, |r| match r {
            Resource::Cluster(c) => Some(*c),
            _ => None,
        });
        let mut snapshot = Snapshot::default();
        if let Err(error) = apply_clusters(&mut snapshot, &clusters, &[], &dns) {
            panic!("the bench's clusters are refused: {error}");
        }
        snapshot
    };
    // Each benchmark measures the path that accepts: checked once, outside the measurement.
    let decoded_assignments = decode(&assignments, |r| match r {
        Resource::ClusterLoadAssignment(c) => Some(*c),
        _ => None,
    });
    let decoded_routes = decode(&route_config, |r| match r {
        Resource::RouteConfiguration(r) => Some(*r),
        _ => None,
    });
    assert_eq!(
        (decoded_assignments.len(), decoded_routes.len()),
        (SERVICES, 1)
    );
    if let Err(error) = apply_endpoints(&mut with_clusters.clone(), &decoded_assignments, &[]) {
        panic!("the bench's endpoints are refused: {error}");
    }
    if let Err(error) = apply_routes(&mut Snapshot::default(), &decoded_routes, &[]) {
        panic!("the bench's routes are refused: {error}");
    }
    c.bench_function("xds/1k_assignments_x10/decode_compile", |b| {
        b.iter_batched(
            || with_clusters.clone(),
            |mut snapshot| {
                let assignments = decode(&assignments, |r| match r {
                    Resource::ClusterLoadAssignment(c) => Some(*c),
                    _ => None,
                });
                let applied = apply_endpoints(&mut snapshot, &assignments, &[]);
                black_box((applied.is_ok(), snapshot))
            },
            BatchSize::LargeInput,
        );
    });

    c.bench_function("xds/route_config_1k_vhosts/decode_compile", |b| {
        b.iter(|| {
            let routes = decode(&route_config, |r| match r {
                Resource::RouteConfiguration(r) => Some(*r),
                _ => None,
            });
            let mut snapshot = Snapshot::default();
            let applied = apply_routes(&mut snapshot, &routes, &[]);
            black_box((applied.is_ok(), snapshot))
        });
    });
}

/// The ClientHello curl (OpenSSL 3) sent with SNI and ALPN `h2`, `http/1.1`.
const CURL_HELLO: &[u8] = include_bytes!("../src/detect/testdata/curl_client_hello.bin");

fn detection(c: &mut Criterion) {
    let http1 = b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nuser-agent: curl/8\r\n\r\n";
    let http2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00";
    let opaque = b"\x00\x00\x00\x4a\x00\x03\x00\x00user\x00postgres\x00database\x00shop\x00\x00";
    let cases: [(&str, &[u8]); 4] = [
        ("detect/http1", http1),
        ("detect/h2c_preface", http2),
        ("detect/tls_client_hello", CURL_HELLO),
        ("detect/opaque", opaque),
    ];
    for ((name, bytes), expected) in cases.into_iter().zip([
        Protocol::Http1,
        Protocol::Http2,
        Protocol::Tls {
            sni: Some("api.bookinfo.example".to_owned()),
            alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
        },
        Protocol::Opaque,
    ]) {
        assert_eq!(detect(bytes), Detection::Done(expected), "{name}");
        c.bench_function(name, |b| b.iter(|| detect(black_box(bytes))));
    }
}

criterion_group!(benches, push, detection);
criterion_main!(benches);
