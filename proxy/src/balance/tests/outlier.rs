//! Picks that leave out what outlier detection ejected.

use std::{collections::BTreeMap, net::SocketAddr};

use envoy_types::pb::envoy::config::core::v3::HealthStatus;
use rand::{SeedableRng, rngs::SmallRng};

use super::{IPS, cla, distribution, healthy, lb, locality, tally};
use crate::balance::{
    Algorithm, DEFAULT_BASE_EJECTION_TIME, EndpointSet, NoHealthyUpstream, Outcome, OutlierConfig,
    OutlierDetector,
};

/// A detector that ejects at the first 5xx, at most `max_ejection_percent` of a cluster.
fn ejecting_at_once(max_ejection_percent: u32) -> OutlierDetector {
    OutlierDetector::new(OutlierConfig {
        consecutive_5xx: 1,
        max_ejection_percent,
        ..OutlierConfig::default()
    })
}

/// The address of the endpoint at `ip`.
fn at(ip: &str) -> SocketAddr {
    format!("{ip}:9080").parse().expect("address")
}

/// How often each IP is picked in `n` picks that leave out what `outlier` ejected.
fn distribution_with(
    set: &EndpointSet,
    outlier: &OutlierDetector,
    n: usize,
) -> Result<BTreeMap<String, usize>, NoHealthyUpstream> {
    tally(n, |rng| {
        set.pick_with(Algorithm::RoundRobin, Some(outlier), rng)
            .map(|e| e.address.ip())
    })
}

#[tokio::test(start_paused = true)]
async fn ejected_endpoints_are_skipped_and_levels_fail_over_as_for_unhealthy_ones() {
    let set = EndpointSet::compile(&cla(vec![
        locality(
            0,
            vec![
                lb(IPS[0], None, HealthStatus::Healthy),
                lb(IPS[1], None, HealthStatus::Healthy),
            ],
        ),
        locality(1, vec![lb(IPS[2], None, HealthStatus::Healthy)]),
    ]))
    .expect("compiles");
    let outlier = ejecting_at_once(100);
    let eject = |ip: &str| {
        outlier.report(
            at(ip),
            Outcome::Status(503),
            &mut SmallRng::seed_from_u64(1),
        );
    };
    assert_eq!(
        distribution_with(&set, &outlier, 6),
        Ok(BTreeMap::from([
            (IPS[0].to_owned(), 3),
            (IPS[1].to_owned(), 3)
        ]))
    );
    eject(IPS[0]);
    assert_eq!(
        distribution_with(&set, &outlier, 6),
        Ok(BTreeMap::from([(IPS[1].to_owned(), 6)]))
    );
    eject(IPS[1]);
    assert_eq!(
        distribution_with(&set, &outlier, 6),
        Ok(BTreeMap::from([(IPS[2].to_owned(), 6)]))
    );
    // With every endpoint out there is no panic mode: no healthy upstream.
    eject(IPS[2]);
    assert_eq!(
        distribution_with(&set, &outlier, 1),
        Err(NoHealthyUpstream {
            cluster: "outbound|9080||reviews.default.svc.cluster.local".to_owned()
        })
    );
    // The base ejection time later, at the sweep, all are back.
    tokio::time::advance(DEFAULT_BASE_EJECTION_TIME).await;
    assert_eq!(
        distribution_with(&set, &outlier, 6),
        Ok(BTreeMap::from([
            (IPS[0].to_owned(), 3),
            (IPS[1].to_owned(), 3)
        ]))
    );
    // Without a detector, the same set picks as before.
    assert_eq!(
        distribution(&set, Algorithm::RoundRobin, 4),
        BTreeMap::from([(IPS[0].to_owned(), 2), (IPS[1].to_owned(), 2)])
    );
}

#[tokio::test(start_paused = true)]
async fn ejections_survive_an_eds_update_of_the_set() {
    let first = EndpointSet::compile(&healthy(&[IPS[0], IPS[1]])).expect("compiles");
    let outlier = ejecting_at_once(50);
    assert!(distribution_with(&first, &outlier, 1).is_ok());
    outlier.report(at(IPS[0]), Outcome::Reset, &mut SmallRng::seed_from_u64(1));
    let second = first
        .update(&healthy(&[IPS[0], IPS[1], IPS[2]]))
        .expect("compiles");
    assert_eq!(
        distribution_with(&second, &outlier, 4),
        Ok(BTreeMap::from([
            (IPS[1].to_owned(), 2),
            (IPS[2].to_owned(), 2)
        ]))
    );
}
