//! Upstream failures answered as Envoy answers them: status, exact body and response flag.

use std::time::Duration;

use http::StatusCode;
use tokio::{io::AsyncReadExt, net::TcpListener};

use super::support::*;
use crate::http::local::{CONNECTION_FAILURE, CONNECTION_TERMINATION};

async fn assert_local(proxy: &mut Proxy, status: StatusCode, body: &str, flags: &str) {
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["server"], "mesh-proxy");
    if !body.is_empty() {
        assert_eq!(response.headers()["content-type"], "text/plain");
    }
    assert_eq!(text_of(response).await, body);
    let log = proxy.log().await;
    assert_eq!(log["response_code"], status.as_u16());
    assert_eq!(log["response_flags"], flags);
}

#[tokio::test]
async fn a_cluster_without_endpoints_is_503_uh() {
    let mut proxy = Proxy::h1(snapshot(&[("a", &[])]), &to_cluster("a")).await;
    assert_local(
        &mut proxy,
        StatusCode::SERVICE_UNAVAILABLE,
        "no healthy upstream",
        "UH",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_cluster_is_503_nc_with_an_empty_body() {
    let mut proxy = Proxy::h1(snapshot(&[]), &to_cluster("ghost")).await;
    assert_local(&mut proxy, StatusCode::SERVICE_UNAVAILABLE, "", "NC").await;
}

#[tokio::test]
async fn a_refused_connection_is_503_uf() {
    let dead = closed_port().await;
    let mut proxy = Proxy::h1(snapshot(&[("a", &[dead])]), &to_cluster("a")).await;
    assert_eq!(
        CONNECTION_FAILURE,
        "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure"
    );
    assert_local(
        &mut proxy,
        StatusCode::SERVICE_UNAVAILABLE,
        CONNECTION_FAILURE,
        "UF",
    )
    .await;
}

#[tokio::test]
async fn an_upstream_that_closes_before_answering_is_503_uc() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            // Read the request head, then hang up without a response.
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
        }
    });
    let mut proxy = Proxy::h1(snapshot(&[("a", &[addr])]), &to_cluster("a")).await;
    assert_eq!(
        CONNECTION_TERMINATION,
        "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
    );
    assert_local(
        &mut proxy,
        StatusCode::SERVICE_UNAVAILABLE,
        CONNECTION_TERMINATION,
        "UC",
    )
    .await;
}

#[tokio::test]
async fn the_route_timeout_is_504_ut() {
    let slow = Upstream::start(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        text(200, "late")
    })
    .await;
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes: [ { match: { prefix: / }, route: { cluster: a, timeout: 0.2s } } ]
";
    let mut proxy = Proxy::h1(snapshot(&[("a", &[slow.addr])]), routes).await;
    assert_local(
        &mut proxy,
        StatusCode::GATEWAY_TIMEOUT,
        "upstream request timeout",
        "UT",
    )
    .await;
    assert_eq!(slow.hits(), 1);
}
