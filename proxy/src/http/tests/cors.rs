//! The CORS filter: preflights answered locally, simple requests decorated, as Envoy does.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::support::*;
use crate::{config::HttpConnectionManager, http::body};

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

/// The proxy, with the CORS filter in its connection manager or not, and its upstream `a`.
struct Fixture {
    upstream: Upstream,
    proxy: Proxy,
}

// === impl Fixture ===

impl Fixture {
    async fn start(cors: bool) -> Self {
        let upstream = Upstream::named("a").await;
        let hcm = HttpConnectionManager {
            cors,
            ..hcm(ROUTES).as_ref().clone()
        };
        let proxy = Proxy::managed(upstream.addr, hcm, false).await;
        Self { upstream, proxy }
    }

    /// `method path` from `origin` for host `shop`, with `headers`.
    async fn send(
        &self,
        method: &str,
        path: &str,
        origin: &str,
        headers: &[(&str, &str)],
    ) -> Response<Incoming> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "shop")
            .header("origin", origin);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut client = self.proxy.h1_client().await;
        within(client.send_request(request.body(body::empty()).unwrap()))
            .await
            .unwrap()
    }

    /// A preflight of `POST /cart` from `origin`.
    async fn preflight(&self, origin: &str) -> Response<Incoming> {
        self.send(
            "OPTIONS",
            "/cart",
            origin,
            &[("access-control-request-method", "POST")],
        )
        .await
    }
}

/// The `access-control-*` headers of a response, sorted.
fn cors_headers(response: &Response<Incoming>) -> Vec<(String, String)> {
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
    let cors = Fixture::start(true).await;
    let response = cors.preflight("https://app.example").await;
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
    assert_eq!(cors.upstream.hits(), 0);
}

#[tokio::test]
async fn a_simple_request_from_an_allowed_origin_gets_origin_credentials_and_expose() {
    let cors = Fixture::start(true).await;
    let response = cors.send("GET", "/cart", "https://app.example", &[]).await;
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
    assert_eq!(cors.upstream.hits(), 1);
}

#[tokio::test]
async fn another_origin_gets_no_allow_headers() {
    let cors = Fixture::start(true).await;
    let response = cors.send("GET", "/cart", "https://evil.example", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(cors_headers(&response), expected(&[]));
    // Its preflight is not forwarded (`forward_not_matching_preflights: false`): answered
    // without the origin, as Envoy answers it.
    let response = cors.preflight("https://evil.example").await;
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
    assert_eq!(cors.upstream.hits(), 1);
}

#[tokio::test]
async fn redirects_and_managers_without_the_filter_are_left_alone() {
    let cors = Fixture::start(true).await;
    let response = cors
        .send("GET", "/redirect", "https://app.example", &[])
        .await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(cors_headers(&response), expected(&[]));
    assert_eq!(cors.upstream.hits(), 0);

    let without = Fixture::start(false).await;
    let response = without.preflight("https://app.example").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(cors_headers(&response), expected(&[]));
    assert_eq!(text_of(response).await, "a");
    assert_eq!(without.upstream.hits(), 1);
}
