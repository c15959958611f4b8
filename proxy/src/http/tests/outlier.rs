//! Outlier detection: an endpoint that answers consecutive 5xx leaves the rotation.

use std::{sync::Arc, time::Duration};

use http::StatusCode;

use super::support::*;
use crate::{
    balance::{OutlierConfig, OutlierDetector},
    config::Snapshot,
};

/// `snapshot` with cluster `a` given an outlier detector with `config`.
fn with_outlier(mut snapshot: Snapshot, config: OutlierConfig) -> Snapshot {
    let mut cluster = snapshot.clusters["a"].as_ref().clone();
    cluster.outlier = Some(Arc::new(OutlierDetector::new(config)));
    snapshot.clusters.insert("a".into(), Arc::new(cluster));
    snapshot
}

#[tokio::test]
async fn after_three_consecutive_503_the_endpoint_is_ejected() {
    let bad = Upstream::failing("bad", 503).await;
    let good = Upstream::named("good").await;
    // Istio's consecutive5xxErrors 3; half the pool may be ejected, so one of two.
    let config = OutlierConfig {
        consecutive_5xx: 3,
        max_ejection_percent: 50,
        base_ejection_time: Duration::from_secs(300),
        ..OutlierConfig::default()
    };
    let snapshot = with_outlier(snapshot(&[("a", &[bad.addr, good.addr])]), config);
    let mut proxy = Proxy::h1(snapshot, &to_cluster("a")).await;

    // Round robin alternates; the good endpoint's successes do not reset the bad one's count.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(proxy.get("shop", "/").await.status());
        proxy.log().await;
    }
    let (ok, unavailable) = (StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(statuses, [unavailable, ok, unavailable, ok, unavailable]);
    assert_eq!(bad.hits(), 3);

    for _ in 0..20 {
        let response = proxy.get("shop", "/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text_of(response).await, "good");
        let log = proxy.log().await;
        assert_eq!(log["upstream_host"], good.addr.to_string());
        assert_eq!(log["response_code"], 200);
    }
    assert_eq!(bad.hits(), 3);
    assert_eq!(good.hits(), 22);
}

#[tokio::test]
async fn without_outlier_detection_the_failing_endpoint_stays_in_rotation() {
    let bad = Upstream::failing("bad", 503).await;
    let good = Upstream::named("good").await;
    let mut proxy = Proxy::h1(snapshot(&[("a", &[bad.addr, good.addr])]), &to_cluster("a")).await;
    for _ in 0..10 {
        proxy.get("shop", "/").await;
        proxy.log().await;
    }
    assert_eq!((bad.hits(), good.hits()), (5, 5));
}

#[tokio::test]
async fn connection_failures_count_as_5xx() {
    let closed = closed_port().await;
    let good = Upstream::named("good").await;
    let config = OutlierConfig {
        consecutive_5xx: 2,
        max_ejection_percent: 50,
        ..OutlierConfig::default()
    };
    let snapshot = with_outlier(snapshot(&[("a", &[closed, good.addr])]), config);
    let mut proxy = Proxy::h1(snapshot, &to_cluster("a")).await;
    let mut flags = Vec::new();
    for _ in 0..8 {
        proxy.get("shop", "/").await;
        let log = proxy.log().await;
        flags.push(
            log["response_flags"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(flags, ["UF", "-", "UF", "-", "-", "-", "-", "-"]);
    assert_eq!(good.hits(), 6);
}
