//! Several VirtualServices of one host on a gateway: merged in Istio's order, each route kept
//! to the matches that apply to the server's port and to the gateway proxy.

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use pretty_assertions::assert_eq;

use super::*;

const EDGE: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 8080, name: http-admin, protocol: HTTP}
    hosts: ["*"]
"#;

/// A VirtualService `name` of `shop.example.com` on `edge`, created at `created`, with
/// `http` (its rules, indented as list items of `spec.http`).
fn edge_service(name: &str, created: &str, http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: {name}, namespace: istio-system, creationTimestamp: \"{created}\"}}\n\
         spec:\n  hosts: [shop.example.com]\n  gateways: [edge]\n  http:{http}"
    )
}

/// edge with three VirtualServices of `shop.example.com`, none the oldest by name.
fn merged() -> Snapshot {
    let second = edge_service(
        "a-second",
        "2024-01-02T00:00:00Z",
        r#"
  - name: second
    match:
    - {name: web, port: 80, uri: {prefix: /web}}
    - {name: admin, port: 8080, uri: {prefix: /admin}}
    route: [{destination: {host: shop.shop.svc.cluster.local, port: {number: 80}}}]
  - name: gateway-labels
    match:
    - {sourceLabels: {istio: ingressgateway}, uri: {prefix: /gw}}
    - {sourceLabels: {canary: "true"}, uri: {prefix: /canary}}
    - {sourceNamespace: shop, uri: {prefix: /from-shop}}
    route: [{destination: {host: shop.shop.svc.cluster.local, port: {number: 80}}}]
"#,
    );
    let first = edge_service(
        "b-first",
        "2024-01-01T00:00:00Z",
        r#"
  - name: first-api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: shop.shop.svc.cluster.local, port: {number: 80}}}]
  - name: first-all
    route: [{destination: {host: shop.shop.svc.cluster.local, port: {number: 80}}}]
"#,
    );
    let third = edge_service(
        "c-third",
        "2024-01-03T00:00:00Z",
        r#"
  - name: third
    match: [{uri: {exact: /third}}]
    route: [{destination: {host: shop.shop.svc.cluster.local, port: {number: 80}}}]
"#,
    );
    snapshot(&format!("{EDGE}---\n{second}---\n{first}---\n{third}"))
}

/// The route configuration of `port`.
fn route_config(resources: &Resources, port: u16) -> &RouteConfiguration {
    resources
        .routes
        .iter()
        .find(|r| r.name == format!("http.{port}"))
        .unwrap()
}

/// The route names of `shop.example.com` on `port`.
fn shop_routes(resources: &Resources, port: u16) -> Vec<String> {
    let host = route_config(resources, port)
        .virtual_hosts
        .iter()
        .find(|v| v.name == format!("shop.example.com:{port}"))
        .unwrap();
    host.routes.iter().map(|r| r.name.clone()).collect()
}

#[test]
fn virtual_services_of_a_host_merge_oldest_first_with_catch_alls_last() {
    let snapshot = merged();
    let resources = gateway(&snapshot, &ingress());
    // b-first is the oldest though a-second sorts first by name; its catch-all goes last.
    // A match for another port stays out, and sourceLabels read the gateway's own labels.
    assert_eq!(
        shop_routes(&resources, 80),
        [
            "first-api",
            "second.web",
            "gateway-labels",
            "third",
            "first-all"
        ]
    );
    assert_eq!(
        shop_routes(&resources, 8080),
        [
            "first-api",
            "second.admin",
            "gateway-labels",
            "third",
            "first-all"
        ]
    );
    // Gateways merge: no VirtualService of the host is reported as conflicting.
    assert_eq!(snapshot.config().warnings(), &[]);
}

#[test]
fn a_gateway_proxy_in_the_source_namespace_takes_that_match() {
    let snapshot = merged();
    let mut proxy = ingress();
    proxy.namespace = "shop".to_string();
    proxy.labels = labels(&[("istio", "ingressgateway"), ("canary", "true")]);
    let resources = gateway(&snapshot, &proxy);
    let gateway_labels: Vec<_> = route_config(&resources, 80).virtual_hosts[0]
        .routes
        .iter()
        .filter(|r| r.name == "gateway-labels")
        .map(|r| match &r.r#match.as_ref().unwrap().path_specifier {
            Some(
                envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier::Prefix(p),
            ) => p.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(gateway_labels, ["/gw", "/canary", "/from-shop"]);
}
