//! The fault filter: Istio's `VirtualService` `fault` as Envoy's `HTTPFault`, per route.

use std::sync::Arc;

use http::StatusCode;

use super::{
    grpc_replies::{assert_trailers_only, grpc_call, send_h2},
    support::*,
};
use crate::{
    config::HttpConnectionManager,
    route::{ABORT_BODY, Fault},
};

/// Routes everything to `a` with `fault` (YAML of an `HTTPFault`) in the route's
/// `typed_per_filter_config`.
fn faulty_routes(fault: &str) -> String {
    format!(
        "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: {{ prefix: / }}
    route: {{ cluster: a }}
    typed_per_filter_config:
      envoy.filters.http.fault:
        '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
        {fault}
"
    )
}

/// A proxy whose connection manager has the fault filter (with an empty config, as Istio
/// installs it) when `filter` is true.
async fn proxy(upstream: &Upstream, routes: &str, filter: bool) -> Proxy {
    Proxy::managed(upstream.addr, with_filter(routes, filter), false).await
}

fn with_filter(routes: &str, filter: bool) -> HttpConnectionManager {
    HttpConnectionManager {
        fault: filter.then(|| Arc::new(Fault::default())),
        ..hcm(routes).as_ref().clone()
    }
}

/// As [`proxy`], for HTTP/2 clients.
async fn h2_proxy(upstream: &Upstream, routes: &str) -> Proxy {
    Proxy::managed(upstream.addr, with_filter(routes, true), true).await
}

#[tokio::test]
async fn an_abort_answers_for_the_upstream_with_fi() {
    let upstream = Upstream::named("a").await;
    let routes = faulty_routes("abort: { http_status: 500, percentage: { numerator: 100 } }");
    let mut proxy = proxy(&upstream, &routes, true).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text_of(response).await, ABORT_BODY);
    assert_eq!(upstream.hits(), 0);
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 500);
    assert_eq!(log["response_flags"], "FI");
}

#[tokio::test]
async fn a_delay_holds_the_request_then_forwards_it_with_di() {
    let upstream = Upstream::named("a").await;
    let routes = faulty_routes("delay: { fixed_delay: 0.01s, percentage: { numerator: 100 } }");
    let mut proxy = proxy(&upstream, &routes, true).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "a");
    assert_eq!(upstream.hits(), 1);
    assert_eq!(proxy.log().await["response_flags"], "DI");
}

#[tokio::test]
async fn without_the_filter_in_the_chain_a_routes_fault_does_nothing() {
    // As in Envoy: per-route config only configures a filter that is installed.
    let upstream = Upstream::named("a").await;
    let routes = faulty_routes("abort: { http_status: 500, percentage: { numerator: 100 } }");
    let mut proxy = proxy(&upstream, &routes, false).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(proxy.log().await["response_flags"], "-");
}

#[tokio::test]
async fn a_grpc_status_abort_answers_grpc_trailers_only_with_fi() {
    let upstream = Upstream::named("a").await;
    let routes = faulty_routes("abort: { grpc_status: 14, percentage: { numerator: 100 } }");
    let mut proxy = h2_proxy(&upstream, &routes).await;
    let response = send_h2(&proxy, grpc_call("/shop.Cart/Add")).await;
    assert_trailers_only(response, "14", Some(ABORT_BODY)).await;
    assert_eq!(upstream.hits(), 0);
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "FI");
}

#[tokio::test]
async fn a_grpc_status_abort_answers_other_requests_with_a_plain_200() {
    let upstream = Upstream::named("a").await;
    let routes = faulty_routes("abort: { grpc_status: 14, percentage: { numerator: 100 } }");
    let mut proxy = proxy(&upstream, &routes, true).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.headers().get("grpc-status"), None);
    assert_eq!(text_of(response).await, ABORT_BODY);
    assert_eq!(proxy.log().await["response_flags"], "FI");
}

#[tokio::test]
async fn an_http_abort_of_a_grpc_request_maps_its_status() {
    let upstream = Upstream::named("a").await;
    let routes = faulty_routes("abort: { http_status: 503, percentage: { numerator: 100 } }");
    let mut proxy = h2_proxy(&upstream, &routes).await;
    let response = send_h2(&proxy, grpc_call("/shop.Cart/Add")).await;
    assert_trailers_only(response, "14", Some(ABORT_BODY)).await;
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "FI");
}
