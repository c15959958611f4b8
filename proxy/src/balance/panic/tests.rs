use std::sync::Arc;

use super::*;
use crate::balance::endpoint::{Endpoint, Health};

/// A level of `priority` with `total` endpoints, the first `available` of them available.
fn levels(spec: &[(u32, usize, usize)]) -> (Vec<Level>, Vec<Level>) {
    let mut all = Vec::new();
    let mut available = Vec::new();
    for &(priority, total, up) in spec {
        let endpoints: Vec<Arc<Endpoint>> = (0..total)
            .map(|i| {
                let address = format!("127.0.0.{}:{}", priority + 1, 8000 + i)
                    .parse()
                    .unwrap();
                let health = if i < up {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                };
                Arc::new(Endpoint::new(
                    address,
                    None,
                    1,
                    health,
                    priority,
                    Arc::default(),
                ))
            })
            .collect();
        let up: Vec<_> = endpoints.iter().take(up).cloned().collect();
        if !up.is_empty() {
            available.push(Level::new(priority, up));
        }
        all.push(Level::new(priority, endpoints));
    }
    (all, available)
}

fn panicking(spec: &[(u32, usize, usize)], threshold: u32) -> Option<u32> {
    let (all, available) = levels(spec);
    level_in_panic(&all, &available, threshold).map(|l| l.priority)
}

#[test]
fn one_level_panics_below_the_threshold() {
    // 1 of 4 is 25 %: under 50, over 20.
    assert_eq!(panicking(&[(0, 4, 1)], 50), Some(0));
    assert_eq!(panicking(&[(0, 4, 1)], 20), None);
    // 2 of 4 is not under 50.
    assert_eq!(panicking(&[(0, 4, 2)], 50), None);
    // None left: the level panics whatever the (non-zero) threshold.
    assert_eq!(panicking(&[(0, 3, 0)], 1), Some(0));
    // 0 turns panic mode off.
    assert_eq!(panicking(&[(0, 3, 0)], 0), None);
}

#[test]
fn overprovisioning_keeps_a_mostly_healthy_level_out_of_panic() {
    // 3 of 4 is 75 %, under 80; but 1.4 × 75 % is past 100 %: the cluster is available.
    assert_eq!(panicking(&[(0, 4, 3)], 80), None);
    // 5 of 8 is 62.5 %, and 1.4 × 62.5 % = 87 %: under 100, so the threshold decides.
    assert_eq!(panicking(&[(0, 8, 5)], 80), Some(0));
}

#[test]
fn a_healthy_next_level_keeps_the_first_out_of_panic() {
    // 35 % + 100 %: the cluster is available, so no level panics.
    assert_eq!(panicking(&[(0, 4, 1), (1, 2, 2)], 50), None);
    // 35 % + 35 %: the serving level (0) panics.
    assert_eq!(panicking(&[(0, 4, 1), (1, 4, 1)], 50), Some(0));
    // Nothing left in 0: 1 serves, and panics at 1 of 4.
    assert_eq!(panicking(&[(0, 2, 0), (1, 4, 1)], 50), Some(1));
    // Nothing left anywhere: the first level panics, as in Envoy.
    assert_eq!(panicking(&[(0, 2, 0), (1, 4, 0)], 50), Some(0));
}

mod picks {
    use std::collections::BTreeMap;

    use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
    use mesh_xds::json::from_yaml;
    use rand::{SeedableRng, rngs::SmallRng};

    use crate::balance::{
        Algorithm, EndpointSet, NoHealthyUpstream, Outcome, OutlierConfig, OutlierDetector,
    };

    /// Endpoints `127.0.0.1:8001..` with the given EDS health statuses, all at priority 0.
    fn set(health: &[&str]) -> EndpointSet {
        let endpoints: Vec<String> = health
            .iter()
            .enumerate()
            .map(|(i, status)| {
                format!(
                    "{{ health_status: {status}, endpoint: {{ address: {{ socket_address: \
                     {{ address: 127.0.0.1, port_value: {} }} }} }} }}",
                    8001 + i
                )
            })
            .collect();
        let cla: ClusterLoadAssignment = from_yaml(&format!(
            "cluster_name: c\nendpoints: [ {{ lb_endpoints: [ {} ] }} ]",
            endpoints.join(", ")
        ))
        .unwrap();
        EndpointSet::compile(&cla).unwrap()
    }

    /// How often each port is picked in `n` round-robin picks.
    fn picks(
        set: &EndpointSet,
        outlier: Option<&OutlierDetector>,
        threshold: u32,
        n: usize,
    ) -> Result<BTreeMap<u16, usize>, NoHealthyUpstream> {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = BTreeMap::new();
        for _ in 0..n {
            let endpoint =
                set.pick_hashed(Algorithm::RoundRobin, outlier, None, threshold, &mut rng)?;
            *counts.entry(endpoint.address.port()).or_default() += 1;
        }
        Ok(counts)
    }

    #[test]
    fn below_the_threshold_every_endpoint_takes_its_share() {
        let set = set(&["HEALTHY", "UNHEALTHY", "UNHEALTHY", "DRAINING"]);
        // 1 of 4 available (25 %) is under 50 %: all four take turns.
        assert_eq!(
            picks(&set, None, 50, 8),
            Ok(BTreeMap::from([(8001, 2), (8002, 2), (8003, 2), (8004, 2)]))
        );
        // Under a threshold of 20 %, or with panic mode off, only the healthy one.
        assert_eq!(picks(&set, None, 20, 8), Ok(BTreeMap::from([(8001, 8)])));
        assert_eq!(picks(&set, None, 0, 8), Ok(BTreeMap::from([(8001, 8)])));
    }

    #[test]
    fn with_none_available_panic_mode_picks_them_all_and_without_it_none() {
        let set = set(&["UNHEALTHY", "UNHEALTHY"]);
        assert_eq!(
            picks(&set, None, 50, 4),
            Ok(BTreeMap::from([(8001, 2), (8002, 2)]))
        );
        assert_eq!(
            picks(&set, None, 0, 1),
            Err(NoHealthyUpstream {
                cluster: "c".to_owned()
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ejected_endpoints_count_as_unavailable_and_come_back_in_panic() {
        let set = set(&["HEALTHY", "HEALTHY", "HEALTHY", "HEALTHY"]);
        let outlier = OutlierDetector::new(OutlierConfig {
            consecutive_5xx: 1,
            max_ejection_percent: 100,
            ..OutlierConfig::default()
        });
        assert!(picks(&set, Some(&outlier), 50, 1).is_ok());
        let mut rng = SmallRng::seed_from_u64(1);
        for port in [8001, 8002] {
            let address = format!("127.0.0.1:{port}").parse().unwrap();
            outlier.report(address, Outcome::Status(503), &mut rng);
        }
        // 2 of 4 left (50 %) is not under 50 %: the ejected two stay out.
        assert_eq!(
            picks(&set, Some(&outlier), 50, 4),
            Ok(BTreeMap::from([(8003, 2), (8004, 2)]))
        );
        let address = "127.0.0.1:8003".parse().unwrap();
        outlier.report(address, Outcome::Status(503), &mut rng);
        // 1 of 4 (25 %): panic, and the ejected endpoints take their turns again.
        assert_eq!(
            picks(&set, Some(&outlier), 50, 8),
            Ok(BTreeMap::from([(8001, 2), (8002, 2), (8003, 2), (8004, 2)]))
        );
        assert_eq!(
            picks(&set, Some(&outlier), 0, 4),
            Ok(BTreeMap::from([(8004, 4)]))
        );
    }
}
