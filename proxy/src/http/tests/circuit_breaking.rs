//! Circuit breakers: requests past a cluster's thresholds fail fast with Envoy's 503 `UO`,
//! counted by the threshold that refused them.

use std::sync::Arc;

use http::StatusCode;
use tokio::sync::Semaphore;

use super::support::*;
use crate::{
    config::{Snapshot, UpstreamProtocol},
    http::local::OVERFLOW,
    stats::Exporter,
    upstream::{CircuitBreaker, Thresholds},
};

/// `snapshot` with cluster `a`'s breaker replaced by one with `thresholds`.
fn with_thresholds(mut snapshot: Snapshot, thresholds: Thresholds) -> Snapshot {
    let mut cluster = snapshot.clusters["a"].as_ref().clone();
    cluster.breaker = Arc::new(CircuitBreaker::new(thresholds));
    snapshot.clusters.insert("a".into(), Arc::new(cluster));
    snapshot
}

/// The overflow counts of cluster `a`, as a scrape shows them: `[max_connections,
/// max_pending_requests, max_requests, max_retries]`.
fn overflows(proxy: &Proxy) -> Vec<String> {
    let prefix = "mesh_proxy_upstream_connections_overflow_total{cluster=\"a\",";
    Exporter::new(Arc::clone(&proxy.ctx.telemetry().stats))
        .render()
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(str::to_owned)
        .collect()
}

/// What [`overflows`] shows for these counts.
fn counted(counts: [u64; 4]) -> Vec<String> {
    [
        "max_connections",
        "max_pending_requests",
        "max_requests",
        "max_retries",
    ]
    .iter()
    .zip(counts)
    .map(|(kind, count)| format!("kind=\"{kind}\"}} {count}"))
    .collect()
}

#[tokio::test]
async fn past_one_connection_and_one_pending_request_the_third_overflows() {
    // Istio's circuit-breaking task: maxConnections 1, http1MaxPendingRequests 1.
    let gate = Arc::new(Semaphore::new(0));
    let upstream = Upstream::start({
        let gate = Arc::clone(&gate);
        move |_| {
            let gate = Arc::clone(&gate);
            async move {
                gate.acquire().await.unwrap().forget();
                text(200, "slow")
            }
        }
    })
    .await;
    let thresholds = Thresholds {
        max_connections: 1,
        max_pending_requests: 1,
        ..Thresholds::default()
    };
    let mut proxy = Proxy::h1(
        with_thresholds(snapshot(&[("a", &[upstream.addr])]), thresholds),
        &to_cluster("a"),
    )
    .await;
    let mut requests = Vec::new();
    for _ in 0..3 {
        let mut client = proxy.h1_client().await;
        requests.push(tokio::spawn(async move {
            let response = client.send_request(get("shop", "/")).await.unwrap();
            (response.status(), text_of(response).await)
        }));
    }

    // While the upstream holds the first request, the overflow is answered at once.
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 503);
    assert_eq!(log["response_flags"], "UO");
    assert_eq!(upstream.hits(), 1);

    gate.add_permits(2);
    let mut outcomes = Vec::new();
    for request in requests {
        outcomes.push(within(request).await.unwrap());
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (StatusCode::OK, "slow".to_owned()),
            (StatusCode::OK, "slow".to_owned()),
            (StatusCode::SERVICE_UNAVAILABLE, OVERFLOW.to_owned()),
        ]
    );
    // Only one connection was ever opened: the pending request waited for it.
    assert_eq!(upstream.connections(), 1);
    for _ in 0..2 {
        assert_eq!(proxy.log().await["response_flags"], "-");
    }
    assert_eq!(overflows(&proxy), counted([0, 1, 0, 0]));
}

#[tokio::test]
async fn an_http2_request_past_max_requests_overflows_and_is_counted() {
    let gate = Arc::new(Semaphore::new(0));
    let mut upstream = Upstream::start({
        let gate = Arc::clone(&gate);
        move |_| {
            let gate = Arc::clone(&gate);
            async move {
                gate.acquire().await.unwrap().forget();
                text(200, "slow")
            }
        }
    })
    .await;
    let thresholds = Thresholds {
        max_requests: 1,
        ..Thresholds::default()
    };
    let snapshot = one_cluster(upstream.addr, UpstreamProtocol::Http2);
    let proxy = Proxy::h1(with_thresholds(snapshot, thresholds), &to_cluster("a")).await;
    let first = tokio::spawn({
        let mut client = proxy.h1_client().await;
        async move { client.send_request(get("shop", "/")).await }
    });
    // The first request is active upstream: HTTP/2 needs no connection slot, only
    // `max_requests` bounds it.
    upstream.next().await;
    let refused = proxy.get("shop", "/").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(text_of(refused).await, OVERFLOW);
    assert_eq!(overflows(&proxy), counted([0, 0, 1, 0]));

    gate.add_permits(1);
    let first = within(first).await.unwrap().unwrap();
    assert_eq!(text_of(first).await, "slow");
    assert_eq!(upstream.hits(), 1);
    assert_eq!(overflows(&proxy), counted([0, 0, 1, 0]));
}

#[tokio::test]
async fn a_retry_past_max_retries_is_not_made_and_the_response_is_flagged_uo() {
    let failing = Upstream::failing("down", 503).await;
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: / }
    route: { cluster: a, retry_policy: { retry_on: 5xx, num_retries: 2 } }
";
    let thresholds = Thresholds {
        max_retries: 0,
        ..Thresholds::default()
    };
    let mut proxy = Proxy::h1(
        with_thresholds(snapshot(&[("a", &[failing.addr])]), thresholds),
        routes,
    )
    .await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(text_of(response).await, "down");
    assert_eq!(failing.hits(), 1);
    assert_eq!(proxy.log().await["response_flags"], "UO");
    assert_eq!(overflows(&proxy), counted([0, 0, 0, 1]));
}
