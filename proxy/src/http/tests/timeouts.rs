//! The stream idle timeout (the connection manager's, a route's override) and a route's
//! `max_stream_duration`, with short real timers: the tests assert what the client gets and the
//! access log's flags, never how long it took.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::support::*;
use crate::{config::HttpConnectionManager, http::ProxyBody, upstream::BoxError};

/// Long enough for a loopback exchange on a loaded machine, short enough for a test.
const SHORT: Duration = Duration::from_millis(500);

/// A route table sending everything to cluster `a`, with `action` added to the route action.
fn routes(action: &str) -> String {
    format!(
        "name: r\nvirtual_hosts: [ {{ name: v, domains: ['*'], routes: [ \
         {{ match: {{ prefix: / }}, route: {{ cluster: a, {action} }} }} ] }} ]"
    )
}

fn handler(idle: Option<Duration>, action: &str) -> HttpConnectionManager {
    HttpConnectionManager {
        stream_idle_timeout: idle,
        ..hcm(&routes(action)).as_ref().clone()
    }
}

/// An upstream that takes requests and never answers.
async fn silent() -> Upstream {
    Upstream::start(|_| std::future::pending::<Response<ProxyBody>>()).await
}

/// An upstream that sends its headers and one chunk, then nothing more.
async fn stalling() -> Upstream {
    Upstream::start(|_| async {
        let frames =
            futures_util::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from("first")))])
                .chain(futures_util::stream::pending());
        Response::new(StreamBody::new(frames).boxed_unsync())
    })
    .await
}

async fn start(upstream: &Upstream, manager: HttpConnectionManager) -> Proxy {
    Proxy::managed(upstream.addr, manager, false).await
}

#[tokio::test]
async fn an_idle_stream_whose_request_is_complete_gets_504_si() {
    let upstream = silent().await;
    let mut proxy = start(&upstream, handler(Some(SHORT), "timeout: 60s")).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(text_of(response).await, "stream timeout");
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 504);
    assert_eq!(log["response_flags"], "SI");
}

#[tokio::test]
async fn an_idle_stream_whose_request_is_still_arriving_gets_408_si() {
    let upstream = silent().await;
    let mut proxy = start(&upstream, handler(Some(SHORT), "timeout: 60s")).await;
    let (tx, body) = channel_body();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/upload")
        .header("host", "shop")
        .body(body)
        .unwrap();
    let mut client = proxy.h1_client().await;
    let sending = client.send_request(request);
    tx.send(Bytes::from("part")).await.unwrap();
    let response = within(sending).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(text_of(response).await, "stream timeout");
    assert_eq!(proxy.log().await["response_flags"], "SI");
    drop(tx);
}

#[tokio::test]
async fn a_route_idle_timeout_replaces_the_managers() {
    let upstream = silent().await;
    // The manager's timer is off; the route's fires.
    let mut proxy = start(&upstream, handler(None, "timeout: 60s, idle_timeout: 0.5s")).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(text_of(response).await, "stream timeout");
    assert_eq!(proxy.log().await["response_flags"], "SI");
}

#[tokio::test]
async fn a_route_idle_timeout_of_zero_turns_the_managers_off() {
    let upstream = silent().await;
    // With the idle timer off, the route timeout is what ends the wait.
    let mut proxy = start(
        &upstream,
        handler(Some(SHORT), "timeout: 1s, idle_timeout: 0s"),
    )
    .await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(text_of(response).await, "upstream request timeout");
    assert_eq!(proxy.log().await["response_flags"], "UT");
}

#[tokio::test]
async fn a_response_that_goes_idle_is_reset_with_si() {
    let upstream = stalling().await;
    let mut proxy = start(&upstream, handler(Some(SHORT), "timeout: 60s")).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = within(body.frame()).await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    // The stream is reset: the body ends in an error, not in a clean end.
    let rest = within(body.collect()).await;
    assert!(rest.is_err(), "the body ended cleanly");
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "SI");
}

#[tokio::test]
async fn frames_push_the_idle_timer_back() {
    // Eight chunks 100 ms apart: the stream outlives the idle timeout, but is never idle for it.
    let upstream = Upstream::start(|_| async {
        let frames = futures_util::stream::iter(0..8u8).then(|i| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok::<_, BoxError>(Frame::data(Bytes::from(vec![b'a' + i])))
        });
        Response::new(StreamBody::new(frames).boxed_unsync())
    })
    .await;
    let mut proxy = start(&upstream, handler(Some(SHORT), "timeout: 60s")).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "abcdefgh");
    assert_eq!(proxy.log().await["response_flags"], "-");
}

#[tokio::test]
async fn max_stream_duration_answers_a_stream_without_a_response() {
    let upstream = silent().await;
    let mut proxy = start(
        &upstream,
        handler(
            None,
            "timeout: 60s, max_stream_duration: { max_stream_duration: 0.2s }",
        ),
    )
    .await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(text_of(response).await, "downstream duration timeout");
    assert_eq!(proxy.log().await["response_flags"], "-");
}

#[tokio::test]
async fn max_stream_duration_resets_a_response_in_progress() {
    let upstream = stalling().await;
    let mut proxy = start(
        &upstream,
        handler(
            None,
            "timeout: 60s, max_stream_duration: { max_stream_duration: 1s }",
        ),
    )
    .await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(within(response.into_body().collect()).await.is_err());
    // Neither the idle timer nor the client ended it.
    assert_eq!(proxy.log().await["response_flags"], "-");
}

#[test]
fn stream_idle_timeout_defaults_to_five_minutes_and_zero_disables_it() {
    assert_eq!(
        compiled_hcm("").stream_idle_timeout,
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        compiled_hcm("stream_idle_timeout: 7s").stream_idle_timeout,
        Some(Duration::from_secs(7))
    );
    assert_eq!(
        compiled_hcm("stream_idle_timeout: 0s").stream_idle_timeout,
        None
    );
}
