//! A cluster's HTTP/2 `max_concurrent_streams` through the whole proxy: requests past the cap
//! of one upstream connection open another, as Envoy's pool does.

use std::{sync::Arc, time::Duration};

use http::StatusCode;
use tokio::{sync::watch, time::Instant};

use super::support::*;
use crate::config::UpstreamProtocol;

#[tokio::test]
async fn five_streams_at_a_cap_of_two_take_three_upstream_connections() {
    let (release, released) = watch::channel(false);
    let upstream = Upstream::start(move |_| {
        let mut released = released.clone();
        async move {
            let _ = released.wait_for(|r| *r).await;
            text(200, "ok")
        }
    })
    .await;
    let mut snapshot = one_cluster(upstream.addr, UpstreamProtocol::Http2);
    let cluster = snapshot.clusters.get_mut("a").unwrap();
    Arc::make_mut(cluster).connection.max_concurrent_streams = Some(2);
    let proxy = Proxy::h2(snapshot, &to_cluster("a")).await;
    let client = proxy.h2_client().await;
    let requests: Vec<_> = (0..5)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { client.send_request(h2_get("http://shop/")).await })
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while upstream.hits() < 5 {
        assert!(
            Instant::now() < deadline,
            "{} of 5 requests arrived",
            upstream.hits()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(upstream.connections(), 3);

    let _ = release.send(true);
    for request in requests {
        let response = within(request).await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text_of(response).await, "ok");
    }
    assert_eq!(upstream.connections(), 3);
}
