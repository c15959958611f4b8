//! The HTTP/1.1 header timeout, kept per connection (`header_timer.rs`): a short period here, on
//! the real clock, as the timer races real sockets.

use std::time::Duration;

use http::StatusCode;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};

use super::support::*;
use crate::http::HttpHandler;

const PERIOD: Duration = Duration::from_millis(300);

async fn proxy(upstream: std::net::SocketAddr) -> Proxy {
    Proxy::start_with(
        snapshot(&[("a", &[upstream])]),
        HttpHandler::Chain(hcm(&to_cluster("a"))),
        false,
        |ctx| ctx.with_header_timeout(PERIOD),
    )
    .await
}

#[tokio::test]
async fn a_connection_that_sends_no_complete_head_is_closed_after_the_timeout() {
    let upstream = Upstream::named("a").await;
    let proxy = proxy(upstream.addr).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: sh")
        .await
        .unwrap();
    let mut answer = Vec::new();
    within(stream.read_to_end(&mut answer)).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(answer, b"", "closed without an answer");
    assert!(elapsed >= PERIOD, "closed after {elapsed:?}");
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_one_quiet_period_after_its_request() {
    let upstream = Upstream::named("a").await;
    let proxy = proxy(upstream.addr).await;
    let started = Instant::now();
    let (mut client, conn) = proxy.h1_connection().await;
    let response = within(client.send_request(get("shop", "/"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "a");
    // The first wake-up saw the request; the second, a period with none, closes.
    within(conn).await.unwrap().unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= PERIOD * 2, "closed after {elapsed:?}");
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_request_waiting_longer_than_the_timeout_is_answered() {
    let upstream = Upstream::start(|_| async {
        tokio::time::sleep(PERIOD * 3).await;
        text(200, "late")
    })
    .await;
    let proxy = proxy(upstream.addr).await;
    let (mut client, conn) = proxy.h1_connection().await;
    let response = within(client.send_request(get("shop", "/"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "late");
    // Once answered and idle, the connection is closed as any other.
    within(conn).await.unwrap().unwrap();
}
