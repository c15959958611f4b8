use std::collections::BTreeMap;

use envoy_types::pb::envoy::{
    config::route::v3::{HeaderMatcher, header_matcher::HeaderMatchSpecifier},
    r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern},
};
use pretty_assertions::assert_eq;

use super::*;
use crate::{
    model::test_support::build_valid,
    translate::{ProxyKind, Resources, outbound_key, selected_label_keys, sidecar_outbound},
};

/// `shop.example.com` on two HTTP ports, balanced by the proxy.
const SHOP: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  addresses: [198.19.0.30]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 8080, name: http-admin, protocol: HTTP}
  resolution: STATIC
  endpoints: [{address: 198.18.0.30}]
"#;

fn snapshot(config: &str) -> Snapshot {
    build_valid(&format!("{SHOP}---\n{config}"))
}

/// A VirtualService of `shop.example.com` with `metadata` (inline) and `http` (its rules,
/// indented as list items of `spec.http`).
fn shop_service(metadata: &str, http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {metadata}\n\
         spec:\n  hosts: [shop.example.com]\n  http:\n{http}"
    )
}

/// A snapshot with `shop` in `default` routing `shop.example.com` by `http`.
fn shop_snapshot(http: &str) -> Snapshot {
    snapshot(&shop_service("{name: shop, namespace: default}", http))
}

/// Everything a sidecar `web-1` in `default` without labels is sent.
fn web_outbound(snapshot: &Snapshot) -> Resources {
    sidecar_outbound(snapshot, &sidecar("web-1", "default", &[]))
}

fn sidecar(pod: &str, namespace: &str, labels: &[(&str, &str)]) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.21".to_string()],
        pod: pod.to_string(),
        namespace: namespace.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

/// The routes of `shop.example.com` in the route configuration of `port`.
fn shop_routes(resources: &Resources, port: u16) -> Vec<Route> {
    let config = resources
        .routes
        .iter()
        .find(|r| r.name == port.to_string())
        .unwrap_or_else(|| panic!("no route configuration {port}"));
    config
        .virtual_hosts
        .iter()
        .find(|v| v.name == format!("shop.example.com:{port}"))
        .unwrap()
        .routes
        .clone()
}

fn names(routes: &[Route]) -> Vec<&str> {
    routes.iter().map(|r| r.name.as_str()).collect()
}

/// The outbound routes of shop on port 80 for a sidecar, through its outbound key as the
/// control plane translates them.
fn routes_for(snapshot: &Snapshot, proxy: &Proxy) -> Vec<String> {
    let key = outbound_key(proxy, &selected_label_keys(snapshot));
    let resources = sidecar_outbound(snapshot, &key.representative());
    names(&shop_routes(&resources, 80))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The rules of shop's VirtualService.
const PORTS_AND_SCHEME: &str = r#"
  - name: admin
    match: [{name: on-8080, port: 8080, uri: {prefix: /admin}}]
    route: [{destination: {host: shop.example.com, port: {number: 8080}}}]
  - name: elsewhere
    match: [{port: 9090}]
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
  - name: secure
    match: [{name: tls, scheme: {exact: https}}, {uri: {prefix: /tls}}]
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
  - route: [{destination: {host: shop.example.com, port: {number: 80}}}]
"#;

#[test]
fn a_match_port_keeps_its_route_to_that_port_s_configuration() {
    let resources = web_outbound(&shop_snapshot(PORTS_AND_SCHEME));
    // A rule whose every match names another port is left out; a named match is
    // `<rule>.<match>`, an unnamed one the rule's name, an unnamed rule unnamed.
    assert_eq!(
        names(&shop_routes(&resources, 8080)),
        ["admin.on-8080", "secure.tls", "secure", ""]
    );
    assert_eq!(
        names(&shop_routes(&resources, 80)),
        ["secure.tls", "secure", ""]
    );
}

#[test]
fn scheme_matches_the_scheme_pseudo_header() {
    let resources = web_outbound(&shop_snapshot(PORTS_AND_SCHEME));
    let routes = shop_routes(&resources, 80);
    let headers = routes[0].r#match.as_ref().unwrap().headers.clone();
    assert_eq!(
        headers,
        vec![HeaderMatcher {
            name: ":scheme".to_string(),
            header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
                match_pattern: Some(MatchPattern::Exact("https".to_string())),
                ..StringMatcher::default()
            })),
            ..HeaderMatcher::default()
        }]
    );
    assert_eq!(routes[1].r#match.as_ref().unwrap().headers, vec![]);
}

/// The rules of shop's VirtualService.
const SOURCES: &str = r#"
  - name: from-web
    match: [{sourceLabels: {app: web}}]
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
    timeout: 2s
  - name: from-front
    match: [{sourceNamespace: front}]
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
  - name: edge-only
    match: [{gateways: [edge], sourceLabels: {app: api}}]
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
  - name: rest
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
"#;

#[test]
fn source_labels_and_namespace_pick_routes_per_outbound_key() {
    let snapshot = shop_snapshot(SOURCES);
    let keys = selected_label_keys(&snapshot);
    assert_eq!(keys, ["app".to_string()].into());
    let web_1 = sidecar(
        "web-1",
        "default",
        &[("app", "web"), ("pod-template-hash", "1")],
    );
    let web_2 = sidecar("web-2", "default", &[("app", "web"), ("version", "v2")]);
    let api = sidecar("api-1", "default", &[("app", "api")]);
    let front = sidecar("api-2", "front", &[("app", "api")]);
    // Sidecars that agree on the selected labels share one outbound translation.
    assert_eq!(outbound_key(&web_1, &keys), outbound_key(&web_2, &keys));
    assert_eq!(
        outbound_key(&web_1, &keys).labels,
        BTreeMap::from([("app".to_string(), "web".to_string())])
    );
    assert_ne!(outbound_key(&web_1, &keys), outbound_key(&api, &keys));
    assert_eq!(
        sidecar_outbound(&snapshot, &outbound_key(&web_1, &keys).representative()),
        sidecar_outbound(&snapshot, &outbound_key(&web_2, &keys).representative())
    );
    // A match that lists gateways is for them only, whatever its sourceLabels.
    assert_eq!(routes_for(&snapshot, &web_1), ["from-web", "rest"]);
    assert_eq!(routes_for(&snapshot, &api), ["rest"]);
    assert_eq!(routes_for(&snapshot, &front), ["from-front", "rest"]);
}

#[test]
fn a_delegate_s_routes_are_merged_under_the_root_s_match() {
    let root = shop_service(
        "{name: shop, namespace: default}",
        "  - name: a\n    match: [{uri: {prefix: /a}}]\n    delegate: {name: shop-a}\n",
    );
    let leaf = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-a, namespace: default}
spec:
  http:
  - name: b
    match: [{uri: {prefix: /a/b}}]
    route: [{destination: {host: shop.example.com, port: {number: 8080}}}]
    timeout: 3s
  - name: c
    match: [{uri: {prefix: /c}}]
    route: [{destination: {host: shop.example.com, port: {number: 80}}}]
"#;
    let snapshot = snapshot(&format!("{root}---{leaf}"));
    let routes = shop_routes(&web_outbound(&snapshot), 80);
    assert_eq!(names(&routes), ["a-b"]);
    assert_eq!(
        routes[0].r#match.as_ref().unwrap().path_specifier,
        Some(PathSpecifier::Prefix("/a/b".to_string()))
    );
    let Some(Action::Route(action)) = &routes[0].action else {
        panic!("{:?}", routes[0].action)
    };
    assert_eq!(
        action.cluster_specifier,
        Some(ClusterSpecifier::Cluster(
            "outbound|8080||shop.example.com".to_string()
        ))
    );
    assert_eq!(
        action.timeout,
        Some(duration(std::time::Duration::from_secs(3)))
    );
}

#[test]
fn sidecars_use_the_oldest_virtual_service_of_a_host() {
    let route = "route: [{destination: {host: shop.example.com, port: {number: 80}}}]";
    let newer = shop_service(
        r#"{name: a-newer, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}"#,
        &format!("  - {{name: newer, {route}}}\n"),
    );
    let older = shop_service(
        r#"{name: b-older, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}"#,
        &format!("  - {{name: older, {route}}}\n"),
    );
    let snapshot = snapshot(&format!("{newer}---\n{older}"));
    let resources = web_outbound(&snapshot);
    assert_eq!(names(&shop_routes(&resources, 80)), ["older"]);
    assert_eq!(names(&shop_routes(&resources, 8080)), ["older"]);
    let warned: Vec<String> = snapshot
        .config()
        .warnings()
        .iter()
        .map(|(key, _)| key.to_string())
        .collect();
    assert_eq!(warned, ["VirtualService default/a-newer"]);
}
