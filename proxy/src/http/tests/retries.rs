//! Retries: another endpoint after a retriable failure, and `URX` when they run out.

use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;

use super::support::*;
use crate::http::body;

fn retrying(retry_on: &str, num_retries: u32) -> String {
    format!(
        "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: {{ prefix: / }}
    route:
      cluster: a
      retry_policy:
        retry_on: {retry_on}
        num_retries: {num_retries}
        retry_host_predicate: [ {{ name: envoy.retry_host_predicates.previous_hosts }} ]
        retry_back_off: {{ base_interval: 0.001s }}
"
    )
}

#[tokio::test]
async fn a_503_is_retried_on_another_endpoint() {
    let bad = Upstream::failing("bad", 503).await;
    let good = Upstream::start(|request: Request<hyper::body::Incoming>| async move {
        // Echo the body, to show that a retried request carries it again.
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let mut response = text(200, "good");
        *response.body_mut() = body::full(body);
        response
    })
    .await;
    let mut proxy = Proxy::h1(
        snapshot(&[("a", &[bad.addr, good.addr])]),
        &retrying("5xx", 1),
    )
    .await;
    let mut client = proxy.h1_client().await;
    for i in 0..4 {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header("host", "shop")
            .header("content-length", "7")
            .body(body::full(format!("body #{i}")))
            .unwrap();
        let response = within(client.send_request(request)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text_of(response).await, format!("body #{i}"));
        let log = proxy.log().await;
        assert_eq!(log["response_flags"], "-");
        assert_eq!(log["upstream_host"], good.addr.to_string());
        assert_eq!(log["bytes_received"], 7);
    }
    assert_eq!(good.hits(), 4);
    // Round robin sends some first attempts to the bad endpoint; each was retried once.
    assert!(bad.hits() >= 1, "the bad endpoint was never tried");
}

#[tokio::test]
async fn exhausted_retries_return_the_last_response_with_urx() {
    let (one, two) = (
        Upstream::failing("one", 503).await,
        Upstream::failing("two", 503).await,
    );
    let mut proxy = Proxy::h1(
        snapshot(&[("a", &[one.addr, two.addr])]),
        &retrying("gateway-error", 2),
    )
    .await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let last = text_of(response).await;
    assert!(last == "one" || last == "two", "{last}");
    let log = proxy.log().await;
    assert_eq!(log["response_flags"], "URX");
    assert_eq!(one.hits() + two.hits(), 3);
}

#[tokio::test]
async fn a_connect_failure_is_retried_and_not_flagged_when_a_retry_succeeds() {
    let dead = closed_port().await;
    let good = Upstream::named("good").await;
    let mut proxy = Proxy::h1(
        snapshot(&[("a", &[dead, good.addr])]),
        &retrying("connect-failure", 1),
    )
    .await;
    for _ in 0..2 {
        let response = proxy.get("shop", "/").await;
        assert_eq!(text_of(response).await, "good");
        assert_eq!(proxy.log().await["response_flags"], "-");
    }
}

#[tokio::test]
async fn statuses_outside_retry_on_are_not_retried() {
    let bad = Upstream::failing("bad", 500).await;
    let mut proxy = Proxy::h1(
        snapshot(&[("a", &[bad.addr])]),
        &retrying("gateway-error", 3),
    )
    .await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text_of(response).await, "bad");
    assert_eq!(proxy.log().await["response_flags"], "-");
    assert_eq!(bad.hits(), 1);
}

#[tokio::test]
async fn a_per_try_timeout_moves_on_to_another_endpoint() {
    let slow = Upstream::start(|_| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        text(200, "slow")
    })
    .await;
    let fast = Upstream::named("fast").await;
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: / }
    route:
      cluster: a
      timeout: 5s
      retry_policy:
        retry_on: 5xx
        num_retries: 1
        per_try_timeout: 0.2s
        retry_host_predicate: [ { name: envoy.retry_host_predicates.previous_hosts } ]
";
    let mut proxy = Proxy::h1(snapshot(&[("a", &[slow.addr, fast.addr])]), routes).await;
    for _ in 0..2 {
        let response = proxy.get("shop", "/").await;
        assert_eq!(text_of(response).await, "fast");
        assert_eq!(proxy.log().await["response_flags"], "-");
    }
    // Round robin starts the two requests on different endpoints; a start on the slow one
    // timed out and was retried, and at least one of the two starts there.
    assert!((1..=2).contains(&slow.hits()), "{}", slow.hits());
}
