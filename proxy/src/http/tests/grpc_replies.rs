//! Local replies to gRPC requests become trailers-only gRPC responses, as in Envoy.

use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::support::*;
use crate::http::{ProxyBody, body};

/// A gRPC call to `shop`, over HTTP/2.
pub fn grpc_call(path: &str) -> Request<ProxyBody> {
    Request::builder()
        .method("POST")
        .version(Version::HTTP_2)
        .uri(format!("http://shop{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body::empty())
        .unwrap()
}

/// Sends `request` on a fresh HTTP/2 connection.
pub async fn send_h2(proxy: &Proxy, request: Request<ProxyBody>) -> Response<Incoming> {
    let mut client = proxy.h2_client().await;
    within(client.send_request(request)).await.unwrap()
}

/// Checks a trailers-only gRPC answer: 200, `grpc-status`, `grpc-message` if any, nothing more.
pub async fn assert_trailers_only(
    response: Response<Incoming>,
    grpc_status: &str,
    grpc_message: Option<&str>,
) {
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["grpc-status"], grpc_status);
    assert_eq!(
        headers.get("grpc-message").map(|v| v.to_str().unwrap()),
        grpc_message
    );
    assert_eq!(headers["server"], "mesh-proxy");
    assert_eq!(headers.get("content-length"), None);
    let collected = within(response.into_body().collect()).await.unwrap();
    assert_eq!(collected.trailers(), None::<&HeaderMap>);
    assert_eq!(collected.to_bytes(), "");
}

#[tokio::test]
async fn no_route_is_unimplemented() {
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: [other]
  routes: [ { match: { prefix: / }, route: { cluster: a } } ]
";
    let mut proxy = Proxy::h2(snapshot(&[]), routes).await;
    let response = send_h2(&proxy, grpc_call("/shop.Cart/Add")).await;
    assert_trailers_only(response, "12", None).await;
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "NR");
}

#[tokio::test]
async fn no_healthy_upstream_is_unavailable_with_envoys_text() {
    let mut proxy = Proxy::h2(snapshot(&[("a", &[])]), &to_cluster("a")).await;
    let response = send_h2(&proxy, grpc_call("/shop.Cart/Add")).await;
    assert_trailers_only(response, "14", Some("no healthy upstream")).await;
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "UH");
}

#[tokio::test]
async fn a_direct_response_is_unknown_with_its_body_as_message() {
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: / }
    direct_response: { status: 200, body: { inline_string: '100% pong' } }
    response_headers_to_add: [ { header: { key: x-direct, value: 'yes' } } ]
";
    let proxy = Proxy::h2(snapshot(&[]), routes).await;
    let response = send_h2(&proxy, grpc_call("/shop.Cart/Add")).await;
    // The route's header edits stay; the body is percent-encoded into the message.
    assert_eq!(response.headers()["x-direct"], "yes");
    assert_trailers_only(response, "2", Some("100%25 pong")).await;
    // Without `application/grpc`, the same route answers as plain HTTP.
    let mut client = proxy.h2_client().await;
    let response = within(client.send_request(h2_get("http://shop/")))
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(text_of(response).await, "100% pong");
}
