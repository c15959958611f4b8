use std::{net::SocketAddr, time::Duration};

use rand::{SeedableRng, rngs::SmallRng};
use tokio::time::advance;

use super::*;

fn addr(host: u8) -> SocketAddr {
    SocketAddr::from(([198, 18, 0, host], 9080))
}

/// A detector that knows endpoints `198.18.0.1` to `198.18.0.{hosts}`.
fn detector(config: OutlierConfig, hosts: u8) -> OutlierDetector {
    let detector = OutlierDetector::new(config);
    detector.observe(1, (1..=hosts).map(addr));
    detector
}

fn report(detector: &OutlierDetector, host: u8, outcomes: &[Outcome]) {
    let mut rng = SmallRng::seed_from_u64(7);
    for outcome in outcomes {
        detector.report(addr(host), *outcome, &mut rng);
    }
}

fn ejected(detector: &OutlierDetector, hosts: u8) -> Vec<u8> {
    (1..=hosts)
        .filter(|h| detector.is_ejected(addr(*h)))
        .collect()
}

const E503: Outcome = Outcome::Status(503);

/// Consecutive 5xx only, on every endpoint if need be, with one-second ticks.
fn five_xx(threshold: u32) -> OutlierConfig {
    OutlierConfig {
        consecutive_5xx: threshold,
        max_ejection_percent: 100,
        interval: Duration::from_secs(1),
        base_ejection_time: Duration::from_secs(10),
        ..OutlierConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_nth_consecutive_5xx_ejects() {
    let d = detector(five_xx(3), 2);
    report(&d, 1, &[Outcome::Status(500), Outcome::Reset]);
    assert_eq!(ejected(&d, 2), Vec::<u8>::new());
    report(&d, 1, &[Outcome::Timeout]);
    assert_eq!(ejected(&d, 2), [1]);
    // Reports for an address the detector does not know change nothing.
    report(&d, 9, &[E503, E503, E503]);
    assert_eq!(ejected(&d, 2), [1]);
}

#[tokio::test(start_paused = true)]
async fn any_non_5xx_resets_the_count() {
    let d = detector(five_xx(3), 2);
    report(&d, 1, &[E503, E503, Outcome::Status(404), E503, E503]);
    report(&d, 1, &[Outcome::Connected, E503, E503]);
    assert_eq!(ejected(&d, 2), Vec::<u8>::new());
    report(&d, 1, &[E503]);
    assert_eq!(ejected(&d, 2), [1]);
}

#[tokio::test(start_paused = true)]
async fn gateway_failures_count_502_to_504_and_local_failures() {
    let config = OutlierConfig {
        consecutive_5xx: 0,
        consecutive_gateway_failure: 3,
        enforcing_consecutive_gateway_failure: 100,
        ..five_xx(0)
    };
    let d = detector(config, 2);
    // A 500 is a 5xx but not a gateway error: it restarts the gateway count.
    report(&d, 1, &[E503, Outcome::Status(502), Outcome::Status(500)]);
    report(&d, 1, &[Outcome::Status(504), Outcome::ConnectFailure]);
    assert_eq!(ejected(&d, 2), Vec::<u8>::new());
    report(&d, 1, &[Outcome::Timeout]);
    assert_eq!(ejected(&d, 2), [1]);
}

#[tokio::test(start_paused = true)]
async fn enforcing_zero_detects_but_never_ejects() {
    let never = OutlierConfig {
        enforcing_consecutive_5xx: 0,
        ..five_xx(2)
    };
    let d = detector(never, 2);
    report(&d, 1, &[E503; 50]);
    assert_eq!(ejected(&d, 2), Vec::<u8>::new());
    // Envoy's default: gateway failures are detected but not enforced.
    let gateway = OutlierConfig {
        consecutive_5xx: 0,
        consecutive_gateway_failure: 2,
        ..five_xx(0)
    };
    let d = detector(gateway, 2);
    report(&d, 1, &[E503; 50]);
    assert_eq!(ejected(&d, 2), Vec::<u8>::new());
}

#[tokio::test(start_paused = true)]
async fn enforcing_fifty_ejects_about_half_the_detections() {
    let half = OutlierConfig {
        enforcing_consecutive_5xx: 50,
        ..five_xx(1)
    };
    let mut rng = SmallRng::seed_from_u64(3);
    let mut ejections = 0;
    for _ in 0..200 {
        let d = detector(half.clone(), 1);
        d.report(addr(1), E503, &mut rng);
        ejections += usize::from(d.is_ejected(addr(1)));
    }
    assert!((80..=120).contains(&ejections), "{ejections} of 200");
}

#[tokio::test(start_paused = true)]
async fn max_ejection_percent_caps_ejections() {
    let quarter = OutlierConfig {
        max_ejection_percent: 25,
        ..five_xx(1)
    };
    let d = detector(quarter, 4);
    report(&d, 1, &[E503]);
    report(&d, 2, &[E503]);
    // 1 of 4 is 25%; a second would be 50%.
    assert_eq!(ejected(&d, 4), [1]);
    // Once the first is back, the second's next detection may eject it.
    advance(Duration::from_secs(10)).await;
    assert_eq!(ejected(&d, 4), Vec::<u8>::new());
    report(&d, 2, &[E503]);
    assert_eq!(ejected(&d, 4), [2]);
}

#[tokio::test(start_paused = true)]
async fn one_endpoint_may_go_past_the_cap_only_with_always_eject_one_host() {
    let default_cap = OutlierConfig {
        max_ejection_percent: 10,
        ..five_xx(1)
    };
    let d = detector(default_cap.clone(), 4);
    report(&d, 1, &[E503]);
    assert_eq!(ejected(&d, 4), Vec::<u8>::new());

    let one = OutlierConfig {
        always_eject_one_host: true,
        ..default_cap
    };
    let d = detector(one, 4);
    report(&d, 1, &[E503]);
    report(&d, 2, &[E503]);
    assert_eq!(ejected(&d, 4), [1]);
}

/// Ejects endpoint 1 of `d` (threshold 1) and returns how long it stays out, to the tick.
async fn ejection_length(d: &OutlierDetector) -> Duration {
    report(d, 1, &[E503]);
    assert!(d.is_ejected(addr(1)));
    let mut out = Duration::ZERO;
    while d.is_ejected(addr(1)) {
        // Ticks are a second apart; the bound keeps a broken detector from looping forever.
        assert!(out < Duration::from_secs(1000));
        advance(Duration::from_millis(500)).await;
        out += Duration::from_millis(500);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn back_after_base_times_ejections_capped_at_max_ejection_time() {
    let capped = OutlierConfig {
        max_ejection_time: Duration::from_secs(30),
        ..five_xx(1)
    };
    let d = detector(capped, 1);
    let mut lengths = Vec::new();
    for _ in 0..5 {
        lengths.push(ejection_length(&d).await.as_secs());
    }
    assert_eq!(lengths, [10, 20, 30, 30, 30]);
}

#[tokio::test(start_paused = true)]
async fn back_at_the_first_tick_past_the_ejection_time_with_counts_reset() {
    let ticks = OutlierConfig {
        interval: Duration::from_secs(4),
        ..five_xx(2)
    };
    let d = detector(ticks, 1);
    advance(Duration::from_secs(1)).await;
    report(&d, 1, &[E503, E503]);
    // Requests under way when it was ejected still count.
    report(&d, 1, &[E503]);
    // Ejected at 1 s for 10 s: ticks fall at 4, 8 and 12 s; 12 s is the first past 11 s.
    advance(Duration::from_millis(10_999)).await;
    assert!(d.is_ejected(addr(1)));
    advance(Duration::from_millis(1)).await;
    assert!(!d.is_ejected(addr(1)));
    // Its count restarted when it came back: one more 5xx is not a second detection.
    report(&d, 1, &[E503]);
    assert!(!d.is_ejected(addr(1)));
    report(&d, 1, &[E503]);
    assert!(d.is_ejected(addr(1)));
}

#[tokio::test(start_paused = true)]
async fn the_multiplier_shrinks_at_each_tick_spent_back_in_service() {
    let d = detector(five_xx(1), 1);
    assert_eq!(ejection_length(&d).await.as_secs(), 10);
    assert_eq!(ejection_length(&d).await.as_secs(), 20);
    // The multiplier is 2; one tick healthy brings it to 1, so the next ejection is 20 s, not 30.
    advance(Duration::from_secs(1)).await;
    assert_eq!(ejection_length(&d).await.as_secs(), 20);
    // Three healthy ticks bring it from 2 to 0: the next ejection is the base again.
    advance(Duration::from_secs(3)).await;
    assert_eq!(ejection_length(&d).await.as_secs(), 10);
}

#[tokio::test(start_paused = true)]
async fn eds_updates_keep_the_state_of_endpoints_that_stay() {
    let d = detector(five_xx(2), 3);
    report(&d, 1, &[E503, E503]);
    report(&d, 2, &[E503]);
    d.observe(2, [1, 2].into_iter().map(addr));
    assert_eq!(ejected(&d, 3), [1]);
    // Endpoint 2's count survived the update.
    report(&d, 2, &[E503]);
    assert_eq!(ejected(&d, 3), [1, 2]);
    // An older set seen later (a request picking from a stale snapshot) changes nothing.
    d.observe(1, (1..=3).map(addr));
    report(&d, 3, &[E503, E503]);
    assert_eq!(ejected(&d, 3), [1, 2]);
    // Endpoint 1 removed while ejected: it comes back as new.
    d.observe(3, [2, 3].into_iter().map(addr));
    d.observe(4, (1..=3).map(addr));
    assert_eq!(ejected(&d, 3), [2]);
}
