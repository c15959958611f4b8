use std::{collections::BTreeMap, net::IpAddr};

use envoy_types::pb::{
    envoy::config::{
        core::v3::{
            Address, HealthStatus, SocketAddress, address,
            socket_address::{PortSpecifier, Protocol},
        },
        endpoint::v3::{
            ClusterLoadAssignment, Endpoint as PbEndpoint, LbEndpoint, LocalityLbEndpoints,
            cluster_load_assignment::Policy, lb_endpoint::HostIdentifier,
        },
    },
    google::protobuf::UInt32Value,
};
use rand::{SeedableRng, rngs::SmallRng};

use super::*;

fn lb(ip: &str, weight: Option<u32>, health: HealthStatus) -> LbEndpoint {
    LbEndpoint {
        health_status: health as i32,
        load_balancing_weight: weight.map(|value| UInt32Value { value }),
        host_identifier: Some(HostIdentifier::Endpoint(PbEndpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: ip.to_owned(),
                    port_specifier: Some(PortSpecifier::PortValue(9080)),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn locality(priority: u32, endpoints: Vec<LbEndpoint>) -> LocalityLbEndpoints {
    LocalityLbEndpoints {
        priority,
        lb_endpoints: endpoints,
        ..Default::default()
    }
}

fn cla(localities: Vec<LocalityLbEndpoints>) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: "outbound|9080||reviews.default.svc.cluster.local".to_owned(),
        endpoints: localities,
        ..Default::default()
    }
}

fn healthy(ips: &[&str]) -> ClusterLoadAssignment {
    cla(vec![locality(
        0,
        ips.iter()
            .map(|ip| lb(ip, None, HealthStatus::Healthy))
            .collect(),
    )])
}

/// One locality at priority 0 holding `endpoints`, compiled.
fn one_locality(endpoints: Vec<LbEndpoint>) -> EndpointSet {
    EndpointSet::compile(&cla(vec![locality(0, endpoints)])).expect("compiles")
}

/// How often each IP is picked in `n` calls of `pick`, all given one generator seeded alike.
fn tally(
    n: usize,
    mut pick: impl FnMut(&mut SmallRng) -> Result<IpAddr, NoHealthyUpstream>,
) -> Result<BTreeMap<String, usize>, NoHealthyUpstream> {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        *counts.entry(pick(&mut rng)?.to_string()).or_default() += 1;
    }
    Ok(counts)
}

/// How often each IP is picked in `n` picks.
fn distribution(set: &EndpointSet, algorithm: Algorithm, n: usize) -> BTreeMap<String, usize> {
    tally(n, |rng| set.pick(algorithm, rng).map(|e| e.address.ip())).expect("an endpoint")
}

/// The IPs of the first `n` round-robin picks, in order.
fn round_robin_order(set: &EndpointSet, n: usize) -> Vec<String> {
    let mut rng = SmallRng::seed_from_u64(1);
    (0..n)
        .map(|_| {
            set.pick(Algorithm::RoundRobin, &mut rng)
                .expect("pick")
                .address
                .ip()
                .to_string()
        })
        .collect()
}

fn assert_near(counts: &BTreeMap<String, usize>, expected: &[(&str, usize)], tolerance: usize) {
    assert_eq!(counts.len(), expected.len(), "{counts:?}");
    for (ip, want) in expected {
        let got = counts.get(*ip).copied().unwrap_or(0);
        assert!(
            got.abs_diff(*want) <= tolerance,
            "{ip}: {got} vs {want} ({counts:?})"
        );
    }
}

const IPS: [&str; 3] = ["198.18.0.1", "198.18.0.2", "198.18.0.3"];

#[test]
fn round_robin_cycles_through_equal_endpoints_in_order() {
    let set = EndpointSet::compile(&healthy(&IPS)).expect("compiles");
    assert_eq!(
        round_robin_order(&set, 6),
        [IPS[0], IPS[1], IPS[2], IPS[0], IPS[1], IPS[2]]
    );
}

#[test]
fn weighted_round_robin_is_exact_per_cycle_and_interleaved() {
    let set = one_locality(vec![
        lb(IPS[0], Some(5), HealthStatus::Healthy),
        lb(IPS[1], Some(1), HealthStatus::Healthy),
        lb(IPS[2], Some(1), HealthStatus::Unknown),
    ]);
    // Stride 4 over 7 points: 0 4 1 5 2 6 3, where points 0-4 belong to the heavy endpoint.
    assert_eq!(
        round_robin_order(&set, 7),
        [IPS[0], IPS[0], IPS[0], IPS[1], IPS[0], IPS[2], IPS[0]]
    );
    assert_eq!(
        distribution(&set, Algorithm::RoundRobin, 7_000),
        BTreeMap::from([
            (IPS[0].into(), 5_000),
            (IPS[1].into(), 1_000),
            (IPS[2].into(), 1_000)
        ])
    );
}

#[test]
fn random_honours_weights() {
    let set = one_locality(vec![
        lb(IPS[0], Some(1), HealthStatus::Healthy),
        lb(IPS[1], Some(3), HealthStatus::Healthy),
    ]);
    assert_near(
        &distribution(&set, Algorithm::Random, 10_000),
        &[(IPS[0], 2_500), (IPS[1], 7_500)],
        250,
    );
    let equal = EndpointSet::compile(&healthy(&IPS)).expect("compiles");
    assert_near(
        &distribution(&equal, Algorithm::Random, 9_000),
        &[(IPS[0], 3_000), (IPS[1], 3_000), (IPS[2], 3_000)],
        250,
    );
}

#[test]
fn least_request_avoids_busy_endpoints() {
    let ips: Vec<String> = (1..=10).map(|i| format!("198.18.1.{i}")).collect();
    let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
    let set = EndpointSet::compile(&healthy(&refs)).expect("compiles");
    let idle = distribution(&set, Algorithm::LeastRequest, 10_000);
    let expected: Vec<(&str, usize)> = refs.iter().map(|ip| (*ip, 1_000)).collect();
    assert_near(&idle, &expected, 150);

    // The busy endpoint only wins when both candidates are it: 1 in 100.
    let _busy: Vec<InFlight> = (0..5).map(|_| set.endpoints()[0].start_request()).collect();
    assert_eq!(set.endpoints()[0].in_flight(), 5);
    let loaded = distribution(&set, Algorithm::LeastRequest, 10_000);
    assert!(loaded[refs[0]] < 200, "{loaded:?}");
    for ip in &refs[1..] {
        assert!(loaded[*ip].abs_diff(1_100) < 200, "{ip}: {loaded:?}");
    }
}

#[test]
fn least_request_weighs_in_flight_by_weight() {
    let set = one_locality(vec![
        lb(IPS[0], Some(1), HealthStatus::Healthy),
        lb(IPS[1], Some(4), HealthStatus::Healthy),
    ]);
    // Idle, the heavy endpoint wins unless both candidates are the light one: 1 - (1/5)² = 96%.
    assert_near(
        &distribution(&set, Algorithm::LeastRequest, 10_000),
        &[(IPS[0], 400), (IPS[1], 9_600)],
        120,
    );
    // Two in flight on weight 4 (3/4 per unit) still beats one idle on weight 1 (1 per unit).
    let _busy = [
        set.endpoints()[1].start_request(),
        set.endpoints()[1].start_request(),
    ];
    assert_near(
        &distribution(&set, Algorithm::LeastRequest, 10_000),
        &[(IPS[0], 400), (IPS[1], 9_600)],
        120,
    );
}

#[test]
fn unavailable_endpoints_are_skipped() {
    let set = one_locality(vec![
        lb(IPS[0], None, HealthStatus::Unhealthy),
        lb(IPS[1], None, HealthStatus::Healthy),
        lb(IPS[2], None, HealthStatus::Draining),
        lb("198.18.0.4", None, HealthStatus::Degraded),
        lb("198.18.0.5", None, HealthStatus::Timeout),
    ]);
    for algorithm in [
        Algorithm::RoundRobin,
        Algorithm::Random,
        Algorithm::LeastRequest,
    ] {
        assert_eq!(
            distribution(&set, algorithm, 100),
            BTreeMap::from([(IPS[1].to_owned(), 100)])
        );
    }
    assert_eq!(set.endpoints().len(), 5);
}

#[test]
fn no_available_endpoint_is_an_error() {
    let set = one_locality(vec![lb(IPS[0], None, HealthStatus::Unhealthy)]);
    let mut rng = SmallRng::seed_from_u64(1);
    let error = set
        .pick(Algorithm::RoundRobin, &mut rng)
        .expect_err("nothing to pick");
    assert_eq!(
        error.to_string(),
        "no healthy upstream in cluster \"outbound|9080||reviews.default.svc.cluster.local\""
    );
    let empty = EndpointSet::compile(&cla(vec![])).expect("compiles");
    assert!(empty.pick(Algorithm::LeastRequest, &mut rng).is_err());
    assert_eq!(empty.active_priority(), None);
}

#[test]
fn the_lowest_priority_with_an_available_endpoint_serves() {
    let failover = |p0_health| {
        cla(vec![
            locality(1, vec![lb(IPS[1], None, HealthStatus::Healthy)]),
            locality(0, vec![lb(IPS[0], None, p0_health)]),
            locality(2, vec![lb(IPS[2], None, HealthStatus::Healthy)]),
        ])
    };
    let set = EndpointSet::compile(&failover(HealthStatus::Healthy)).expect("compiles");
    assert_eq!(set.active_priority(), Some(0));
    assert_eq!(
        distribution(&set, Algorithm::Random, 50),
        BTreeMap::from([(IPS[0].to_owned(), 50)])
    );
    let set = EndpointSet::compile(&failover(HealthStatus::Unhealthy)).expect("compiles");
    assert_eq!(set.active_priority(), Some(1));
    assert_eq!(
        distribution(&set, Algorithm::RoundRobin, 50),
        BTreeMap::from([(IPS[1].to_owned(), 50)])
    );
}

#[test]
fn in_flight_counts_survive_updates() {
    let first = EndpointSet::compile(&healthy(&[IPS[0], IPS[1]])).expect("compiles");
    let staying = first.endpoints()[1].start_request();
    let leaving = first.endpoints()[0].start_request();
    let second = first.update(&healthy(&[IPS[1], IPS[2]])).expect("compiles");
    let by_ip = |set: &EndpointSet, ip: &str| {
        set.endpoints()
            .iter()
            .find(|e| e.address.ip().to_string() == ip)
            .map(|e| e.in_flight())
    };
    assert_eq!(by_ip(&second, IPS[1]), Some(1));
    assert_eq!(by_ip(&second, IPS[2]), Some(0));
    // A request that started before the update finishes against the new set's counter.
    drop(staying);
    assert_eq!(by_ip(&second, IPS[1]), Some(0));
    drop(leaving);
    assert_eq!(by_ip(&first, IPS[0]), Some(0));
    // Least request on the new set sees requests started on the old one.
    let _busy = [
        first.endpoints()[1].start_request(),
        first.endpoints()[1].start_request(),
    ];
    let third = second
        .update(&healthy(&[IPS[1], IPS[2]]))
        .expect("compiles");
    assert_eq!(by_ip(&third, IPS[1]), Some(2));
}

#[test]
fn refused_assignments_name_the_field() {
    let refused =
        |cla: ClusterLoadAssignment| EndpointSet::compile(&cla).expect_err("refused").to_string();
    let prefix = "ClusterLoadAssignment \"outbound|9080||reviews.default.svc.cluster.local\": ";
    let mut zero = healthy(&[IPS[0]]);
    zero.endpoints[0].lb_endpoints[0].load_balancing_weight = Some(UInt32Value { value: 0 });
    assert_eq!(
        refused(zero),
        format!("{prefix}endpoints[0].lb_endpoints[0].load_balancing_weight: must be at least 1")
    );
    assert_eq!(
        refused(healthy(&["198.18.0.1", "reviews.default"])),
        format!(
            "{prefix}endpoints[0].lb_endpoints[1].endpoint.address.socket_address.address: \
             \"reviews.default\" is not an IP address"
        )
    );
    let mut udp = healthy(&[IPS[0]]);
    if let Some(HostIdentifier::Endpoint(e)) = &mut udp.endpoints[0].lb_endpoints[0].host_identifier
        && let Some(Address {
            address: Some(address::Address::SocketAddress(s)),
        }) = &mut e.address
    {
        s.protocol = Protocol::Udp as i32;
    }
    assert_eq!(
        refused(udp),
        format!(
            "{prefix}endpoints[0].lb_endpoints[0].endpoint.address.socket_address.protocol: not \
             supported by mesh-proxy"
        )
    );
    let mut named = healthy(&[IPS[0]]);
    named.endpoints[0].lb_endpoints[0].host_identifier =
        Some(HostIdentifier::EndpointName("e".into()));
    assert_eq!(
        refused(named),
        format!("{prefix}endpoints[0].lb_endpoints[0].endpoint_name: not supported by mesh-proxy")
    );
    let mut drops = healthy(&[IPS[0]]);
    drops.policy = Some(Policy {
        drop_overloads: vec![Default::default()],
        ..Default::default()
    });
    assert_eq!(
        refused(drops),
        format!("{prefix}policy.drop_overloads: not supported by mesh-proxy")
    );
}

mod outlier;
