//! The CORS filter: preflights answered locally, simple requests decorated, as Envoy does.

use std::sync::Arc;

use http::{Request, StatusCode};

use super::support::*;
use crate::{
    config::HttpConnectionManager,
    http::{HttpHandler, body},
};

/// Everything to `a`, with Istio's translation of a `corsPolicy` on the route.
const ROUTES: &str = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: /redirect }
    redirect: { path_redirect: /elsewhere }
    typed_per_filter_config: &cors
      envoy.filters.http.cors:
        '@type': type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
        allow_origin_string_match: [ { exact: 'https://app.example' } ]
        allow_methods: GET,POST
        allow_headers: authorization,content-type
        expose_headers: x-trace
        max_age: '600'
        allow_credentials: true
        filter_enabled: { default_value: { numerator: 100 } }
        forward_not_matching_preflights: false
  - match: { prefix: / }
    route: { cluster: a }
    typed_per_filter_config: *cors
";

async fn proxy(upstream: &Upstream, cors: bool) -> Proxy {
    let hcm = HttpConnectionManager {
        cors,
        ..hcm(ROUTES).as_ref().clone()
    };
    Proxy::start(
        snapshot(&[("a", &[upstream.addr])]),
        HttpHandler::Chain(Arc::new(hcm)),
        false,
    )
    .await
}

async fn send(
    proxy: &Proxy,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<hyper::body::Incoming> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "shop");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut client = proxy.h1_client().await;
    within(client.send_request(request.body(body::empty()).unwrap()))
        .await
        .unwrap()
}

/// The `access-control-*` headers of a response, sorted.
fn cors_headers(response: &http::Response<hyper::body::Incoming>) -> Vec<(String, String)> {
    let mut out: Vec<_> = response
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("access-control-"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn expected(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_locally() {
    let upstream = Upstream::named("a").await;
    let proxy = proxy(&upstream, true).await;
    let response = send(
        &proxy,
        "OPTIONS",
        "/cart",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        cors_headers(&response),
        expected(&[
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-headers", "authorization,content-type"),
            ("access-control-allow-methods", "GET,POST"),
            ("access-control-allow-origin", "https://app.example"),
            ("access-control-expose-headers", "x-trace"),
            ("access-control-max-age", "600"),
        ])
    );
    assert_eq!(response.headers()["content-length"], "0");
    assert_eq!(text_of(response).await, "");
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn a_simple_request_from_an_allowed_origin_gets_origin_credentials_and_expose() {
    let upstream = Upstream::named("a").await;
    let proxy = proxy(&upstream, true).await;
    let response = send(&proxy, "GET", "/cart", &[("origin", "https://app.example")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        cors_headers(&response),
        expected(&[
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-origin", "https://app.example"),
            ("access-control-expose-headers", "x-trace"),
        ])
    );
    assert_eq!(text_of(response).await, "a");
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn another_origin_gets_no_allow_headers() {
    let upstream = Upstream::named("a").await;
    let proxy = proxy(&upstream, true).await;
    let response = send(
        &proxy,
        "GET",
        "/cart",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(cors_headers(&response), expected(&[]));
    // Its preflight is not forwarded (`forward_not_matching_preflights: false`): answered
    // without the origin, as Envoy answers it.
    let response = send(
        &proxy,
        "OPTIONS",
        "/cart",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        cors_headers(&response),
        expected(&[
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-headers", "authorization,content-type"),
            ("access-control-allow-methods", "GET,POST"),
            ("access-control-max-age", "600"),
        ])
    );
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn redirects_and_managers_without_the_filter_are_left_alone() {
    let upstream = Upstream::named("a").await;
    let proxy = proxy(&upstream, true).await;
    let response = send(
        &proxy,
        "GET",
        "/redirect",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(cors_headers(&response), expected(&[]));

    let proxy = self::proxy(&upstream, false).await;
    let response = send(
        &proxy,
        "OPTIONS",
        "/cart",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(cors_headers(&response), expected(&[]));
    assert_eq!(text_of(response).await, "a");
    assert_eq!(upstream.hits(), 1);
}
