//! Each EDS health status in `/clusters`, as Envoy 1.40 shows it: `UNKNOWN` as healthy,
//! `UNHEALTHY` and `TIMEOUT` as failed, `DRAINING` and `DEGRADED` with flags of their own, after
//! an outlier ejection's flag.

use std::{net::SocketAddr, sync::Arc};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::super::{
    call, node,
    plane::{backend_with, lb_endpoint, snapshot},
    start,
};
use crate::{
    admin::AdminState,
    balance::Outcome,
    config::ConfigStore,
    upstream::{UpstreamConnections, select_endpoint},
};

/// The statuses of the endpoints on ports 1 to 6.
const STATUSES: [&str; 6] = [
    "HEALTHY",
    "UNKNOWN",
    "UNHEALTHY",
    "DRAINING",
    "TIMEOUT",
    "DEGRADED",
];

#[tokio::test]
async fn each_eds_health_status_is_shown_as_envoy_shows_it() {
    let addresses: Vec<SocketAddr> = (1..=6).map(|port| ([127, 0, 0, 1], port).into()).collect();
    let endpoints: Vec<String> = addresses
        .iter()
        .zip(STATUSES)
        .map(|(address, status)| lb_endpoint(*address, &format!(", health_status: {status}")))
        .collect();
    let cluster = backend_with(
        &endpoints,
        "outlier_detection: { consecutive_5xx: 1, max_ejection_percent: 50, enforcing_success_rate: 0 }\n",
    );
    let store = Arc::new(ConfigStore::new(snapshot(cluster, &[])));
    // The detector learns the endpoints with a first pick; one failure then ejects the
    // degraded endpoint, whose flags then show both.
    let current = store.load();
    drop(select_endpoint(&current, "backend", None, &mut rand::rng()).unwrap());
    let outlier = current.clusters["backend"].outlier.as_ref().unwrap();
    outlier.report(addresses[5], Outcome::ConnectFailure, &mut rand::rng());
    let admin =
        start(AdminState::new(node()).with_clusters(store, Arc::new(UpstreamConnections::new())))
            .await;

    let (status, text) = call(admin, "GET", "/clusters").await;
    assert_eq!(status, 200);
    let flags: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("::health_flags::"))
        .collect();
    assert_eq!(
        flags,
        [
            "backend::127.0.0.1:1::health_flags::healthy",
            "backend::127.0.0.1:2::health_flags::healthy",
            "backend::127.0.0.1:3::health_flags::/failed_eds_health",
            "backend::127.0.0.1:4::health_flags::/eds_status_draining",
            "backend::127.0.0.1:5::health_flags::/failed_eds_health",
            "backend::127.0.0.1:6::health_flags::/failed_outlier_check/degraded_eds_health",
        ]
    );

    let (status, body) = call(admin, "GET", "/clusters?format=json").await;
    assert_eq!(status, 200);
    let clusters: Value = serde_json::from_str(&body).unwrap();
    let health: Vec<&Value> = clusters["cluster_statuses"][0]["host_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| &host["health_status"])
        .collect();
    assert_eq!(
        health,
        [
            &json!({ "eds_health_status": "HEALTHY" }),
            &json!({ "eds_health_status": "HEALTHY" }),
            &json!({ "eds_health_status": "UNHEALTHY" }),
            &json!({ "eds_health_status": "DRAINING" }),
            &json!({ "eds_health_status": "UNHEALTHY" }),
            &json!({ "failed_outlier_check": true, "eds_health_status": "DEGRADED" }),
        ]
    );
}
