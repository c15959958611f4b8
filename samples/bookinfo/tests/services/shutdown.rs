//! Shutdown lets the request in flight finish, then stops listening.

use std::{sync::Arc, time::Duration};

use bookinfo::config::ServiceKind;
use http::StatusCode;
use mesh_testing::Patience;
use tokio::{net::TcpStream, sync::Notify};

use crate::support::{Answer, Recorder, config, get, start};

#[tokio::test]
async fn an_in_flight_request_finishes_after_shutdown_begins() {
    let gate = Arc::new(Notify::new());
    let reviews = Recorder::start(Answer::AfterGate(
        gate.clone(),
        200,
        r#"{"id":"0","reviews":[{"reviewer":"Late","text":"Worth the wait."}]}"#.to_string(),
    ))
    .await;
    let mut config = config(ServiceKind::Productpage).await;
    config.upstreams.reviews = reviews.authority();
    let page = start(config).await;
    let addr = page.addr;
    let in_flight = tokio::spawn(async move { get(addr, "/productpage", &[]).await });

    // The page's request is now waiting on reviews: shut down, then let reviews answer.
    Patience::new(Duration::from_secs(10))
        .eventually(|| async { (!reviews.requests().await.is_empty()).then_some(()) })
        .await
        .unwrap();
    let stopped = tokio::spawn(page.stop());
    // Stopping closes the listener before the drain: new connections are refused.
    Patience::new(Duration::from_secs(10))
        .eventually(|| async { TcpStream::connect(addr).await.err().map(|_| ()) })
        .await
        .unwrap();
    assert!(
        !stopped.is_finished(),
        "the server waits for the request in flight"
    );
    gate.notify_one();

    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.contains("<p>Worth the wait.</p>"),
        "{}",
        reply.body
    );
    stopped.await.unwrap().unwrap();
}
