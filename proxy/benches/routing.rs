//! The routing hot path: route-table lookups, header matching and endpoint picks.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{
                Address, HealthStatus, SocketAddress, address, socket_address::PortSpecifier,
            },
            endpoint::v3::{
                ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
                lb_endpoint::HostIdentifier,
            },
            route::v3::{
                HeaderMatcher, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost,
                header_matcher::HeaderMatchSpecifier, route::Action,
                route_action::ClusterSpecifier, route_match::PathSpecifier,
            },
        },
        r#type::matcher::v3::{RegexMatcher, StringMatcher, string_matcher::MatchPattern},
    },
    google::protobuf::UInt32Value,
};
use http::{HeaderMap, Method};
use mesh_proxy::{
    balance::{Algorithm, EndpointSet},
    route::{RequestMeta, RouteTable},
};
use rand::{SeedableRng, rngs::SmallRng};

fn route(prefix: &str, cluster: &str, headers: Vec<HeaderMatcher>) -> Route {
    Route {
        r#match: Some(RouteMatch {
            path_specifier: Some(PathSpecifier::Prefix(prefix.to_owned())),
            headers,
            ..Default::default()
        }),
        action: Some(Action::Route(RouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_owned())),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// 1 000 virtual hosts of 10 routes each, as a large mesh's outbound sidecar would hold.
fn big_table() -> RouteTable {
    let virtual_hosts = (0..1_000)
        .map(|i| {
            let host = format!("svc-{i}.default.svc.cluster.local");
            VirtualHost {
                name: format!("{host}:9080"),
                domains: vec![host.clone(), format!("{host}:9080"), format!("svc-{i}")],
                routes: (0..10)
                    .map(|j| {
                        route(
                            &format!("/r{j}/"),
                            &format!("outbound|9080|v{j}|{host}"),
                            vec![],
                        )
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    RouteTable::compile(&RouteConfiguration {
        name: "9080".to_owned(),
        virtual_hosts,
        ..Default::default()
    })
    .expect("the bench table compiles")
}

fn header_table(pattern: MatchPattern) -> RouteTable {
    let matcher = HeaderMatcher {
        name: "end-user".to_owned(),
        header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
            ignore_case: false,
            match_pattern: Some(pattern),
        })),
        ..Default::default()
    };
    RouteTable::compile(&RouteConfiguration {
        name: "headers".to_owned(),
        virtual_hosts: vec![VirtualHost {
            name: "reviews".to_owned(),
            domains: vec!["reviews".to_owned()],
            routes: vec![route("/", "v2", vec![matcher]), route("/", "v1", vec![])],
            ..Default::default()
        }],
        ..Default::default()
    })
    .expect("the bench table compiles")
}

fn lookups(c: &mut Criterion) {
    let table = big_table();
    let headers = HeaderMap::new();
    let hit = RequestMeta::new(
        &Method::GET,
        "svc-999.default.svc.cluster.local:9080",
        "/r9/items?page=2",
        &headers,
    );
    assert!(table.find(&hit, 0).is_some());
    c.bench_function("route/1k_vhosts_x10/hit_last", |b| {
        b.iter(|| table.find(black_box(&hit), 0).is_some())
    });
    let miss = RequestMeta::new(&Method::GET, "unknown.example.com", "/r9/items", &headers);
    assert!(table.find(&miss, 0).is_none());
    c.bench_function("route/1k_vhosts_x10/miss", |b| {
        b.iter(|| table.find(black_box(&miss), 0).is_none())
    });

    let mut headers = HeaderMap::new();
    headers.insert("end-user", "jason".parse().expect("a valid value"));
    let req = RequestMeta::new(&Method::GET, "reviews", "/reviews/0", &headers);
    for (name, pattern) in [
        (
            "route/header/exact",
            MatchPattern::Exact("jason".to_owned()),
        ),
        (
            "route/header/regex",
            MatchPattern::SafeRegex(RegexMatcher {
                regex: "ja[a-z]+n".to_owned(),
                engine_type: None,
            }),
        ),
    ] {
        let table = header_table(pattern);
        assert!(table.find(&req, 0).is_some());
        c.bench_function(name, |b| {
            b.iter(|| table.find(black_box(&req), 0).is_some())
        });
    }
}

fn endpoints(n: u8) -> ClusterLoadAssignment {
    let lb_endpoints = (0..n)
        .map(|i| LbEndpoint {
            health_status: HealthStatus::Healthy as i32,
            load_balancing_weight: Some(UInt32Value {
                value: 1 + u32::from(i % 4),
            }),
            host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: format!("198.18.0.{}", i + 1),
                        port_specifier: Some(PortSpecifier::PortValue(9080)),
                        ..Default::default()
                    })),
                }),
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: "bench".to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn picks(c: &mut Criterion) {
    let set = EndpointSet::compile(&endpoints(100)).expect("the bench endpoints compile");
    for (name, algorithm) in [
        ("balance/100_weighted/round_robin", Algorithm::RoundRobin),
        ("balance/100_weighted/random", Algorithm::Random),
        (
            "balance/100_weighted/least_request",
            Algorithm::LeastRequest,
        ),
    ] {
        let mut rng = SmallRng::seed_from_u64(1);
        c.bench_function(name, |b| {
            b.iter(|| set.pick(black_box(algorithm), &mut rng).map(|e| e.address))
        });
    }
}

criterion_group!(benches, lookups, picks);
criterion_main!(benches);
