use std::collections::BTreeMap;

use mesh_common::api::decode;
use pretty_assertions::assert_eq;

use super::{
    names::{intersect, server_hosts},
    *,
};
use crate::{
    mesh_config::MeshConfig,
    model::Objects,
    translate::{ProxyKind, Resources},
};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn snapshot(yaml: &str) -> Snapshot {
    let mut objects = Objects::default();
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).unwrap();
    for document in documents {
        let decoded = decode(&document).unwrap();
        assert_eq!(decoded.unknown_fields, vec![]);
        assert!(objects.upsert_resource(decoded.resource));
    }
    let snapshot = Snapshot::build(&objects, &MeshConfig::default());
    assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
    snapshot
}

fn ingress() -> Proxy {
    Proxy {
        kind: ProxyKind::Router,
        ips: vec!["10.0.0.9".to_string()],
        pod: "gw-1".to_string(),
        namespace: "istio-system".to_string(),
        labels: labels(&[("istio", "ingressgateway")]),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

#[test]
fn resolves_gateway_names_as_istio() {
    let cases = [
        ("mesh", "default", "mesh"),
        ("bookinfo-gateway", "default", "default/bookinfo-gateway"),
        ("./edge", "prod", "prod/edge"),
        ("istio-system/edge", "default", "istio-system/edge"),
        ("edge.istio-system", "default", "istio-system/edge"),
        (
            "edge.istio-system.svc.cluster.local",
            "default",
            "istio-system/edge",
        ),
    ];
    for (name, namespace, expected) in cases {
        assert_eq!(resolve_gateway_name(name, namespace), expected, "{name}");
    }
}

#[test]
fn scope_admits_the_matches_for_it() {
    let list = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    let edge = Scope::Gateway("istio-system/edge");
    assert!(Scope::Mesh.admits(&[], "default"));
    assert!(Scope::Mesh.admits(&list(&["mesh"]), "default"));
    assert!(!Scope::Mesh.admits(&list(&["istio-system/edge"]), "default"));
    assert!(edge.admits(&[], "default"));
    assert!(edge.admits(&list(&["mesh", "istio-system/edge"]), "default"));
    assert!(edge.admits(&list(&["edge"]), "istio-system"));
    // A short name names a Gateway of the VirtualService's own namespace.
    assert!(!edge.admits(&list(&["edge"]), "default"));
    assert!(!edge.admits(&list(&["mesh"]), "default"));
}

#[test]
fn selector_is_a_subset_of_the_proxy_labels() {
    let proxy = labels(&[("istio", "ingressgateway"), ("app", "gw")]);
    assert!(selects(&labels(&[]), &proxy));
    assert!(selects(&labels(&[("istio", "ingressgateway")]), &proxy));
    assert!(selects(&proxy, &proxy));
    assert!(!selects(&labels(&[("istio", "egressgateway")]), &proxy));
    assert!(!selects(
        &labels(&[("istio", "ingressgateway"), ("zone", "a")]),
        &proxy
    ));
}

#[test]
fn server_hosts_honour_their_namespace() {
    let hosts: Vec<String> = [
        "a.example.com",
        "./b.example.com",
        "prod/c.example.com",
        "*/d.example.com",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    assert_eq!(
        server_hosts(&hosts, "istio-system", "prod"),
        vec!["a.example.com", "c.example.com", "d.example.com"]
    );
    assert_eq!(
        server_hosts(&hosts, "istio-system", "istio-system"),
        vec!["a.example.com", "b.example.com", "d.example.com"]
    );
}

#[test]
fn intersection_keeps_the_narrower_host() {
    let hosts = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    assert_eq!(
        intersect(&["*"], &hosts(&["x.example.com", "*.example.org"])),
        hosts(&["x.example.com", "*.example.org"])
    );
    assert_eq!(
        intersect(
            &["*.example.com", "api.example.com"],
            &hosts(&["api.example.com", "example.com", "*"])
        ),
        hosts(&["api.example.com", "*.example.com"])
    );
    assert_eq!(
        intersect(&["a.example.com"], &hosts(&["b.example.com"])),
        Vec::<String>::new()
    );
}

const ISTIO_MUTUAL: &str = "Gateway default/any-proxy server 1 (port 9000 TLS): tls mode \
     ISTIO_MUTUAL is not supported yet: it needs the mesh's certificate authority; use MUTUAL \
     with credentialName";

const SERVERS: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: first
  namespace: istio-system
  creationTimestamp: "2024-01-01T00:00:00Z"
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: any-proxy
  namespace: default
  creationTimestamp: "2024-02-01T00:00:00Z"
spec:
  servers:
  - port: {number: 8443, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 9000, name: mesh, protocol: TLS}
    hosts: ["*.local"]
    tls: {mode: ISTIO_MUTUAL}
  - port: {number: 9001, name: https, protocol: HTTPS}
    hosts: [api.example.com]
    tls: {mode: MUTUAL, credentialName: api-cert}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: egress
  namespace: istio-system
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 8443, name: tcp, protocol: TCP}
    hosts: ["*"]
"#;

#[test]
fn reports_the_servers_it_leaves_out() {
    let snapshot = snapshot(SERVERS);
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(
        warnings,
        vec![
            "Gateway default/any-proxy server 0 (port 8443 HTTP): port 8443 is already served \
             as TLS by Gateway istio-system/first"
                .to_string(),
            ISTIO_MUTUAL.to_string(),
        ]
    );
    assert_eq!(gateway_report(&snapshot, &ingress()), warnings);
    // No VirtualService: the passthrough port has no chain and no listener; the HTTP port
    // listens and answers 404 from an empty virtual host, and so does the HTTPS server.
    let names = |r: &Resources| {
        (
            r.listeners
                .iter()
                .map(|l| l.name.clone())
                .collect::<Vec<_>>(),
            r.routes.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            r.clusters.len(),
        )
    };
    assert_eq!(
        names(&resources),
        (
            vec!["0.0.0.0_8080".to_string(), "0.0.0.0_9001".to_string()],
            vec![
                "http.8080".to_string(),
                "https.9001.https.any-proxy.default".to_string()
            ],
            0
        )
    );
    let hosts: Vec<(&str, &[String], usize)> = resources.routes[0]
        .virtual_hosts
        .iter()
        .map(|v| (v.name.as_str(), v.domains.as_slice(), v.routes.len()))
        .collect();
    assert_eq!(hosts, vec![("blackhole:8080", &["*".to_string()][..], 0)]);
}

#[test]
fn a_gateway_without_selector_applies_to_every_gateway_proxy() {
    let snapshot = snapshot(SERVERS);
    let mut proxy = ingress();
    proxy.labels = labels(&[("istio", "other")]);
    let (resources, warnings) = translate(&snapshot, &proxy);
    // `first` does not select it: port 8443 is `any-proxy`'s HTTP server now.
    let listeners: Vec<&str> = resources
        .listeners
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(listeners, vec!["0.0.0.0_8443", "0.0.0.0_9001"]);
    let routes: Vec<&str> = resources.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        routes,
        vec!["http.8443", "https.9001.https.any-proxy.default"]
    );
    assert_eq!(warnings, vec![ISTIO_MUTUAL.to_string(),]);
}

#[test]
fn a_match_for_other_proxies_gives_no_route() {
    let route: mesh_common::api::HttpRoute = serde_json::from_value(serde_json::json!({
        "match": [
            {"uri": {"prefix": "/edge"}, "gateways": ["istio-system/edge"]},
            {"uri": {"prefix": "/mesh"}, "gateways": ["mesh"]},
            {"uri": {"prefix": "/both"}, "gateways": ["edge.istio-system", "mesh"]},
            {"uri": {"prefix": "/any"}},
        ],
        "route": [{"destination": {"host": "reviews", "port": {"number": 9080}}}],
    }))
    .unwrap();
    let snapshot = Snapshot::build(&Objects::default(), &MeshConfig::default());
    let prefixes = |scope| -> Vec<String> {
        crate::translate::http_route::routes(
            &snapshot,
            "default",
            9080,
            &route,
            crate::translate::http_route::Caller::unlabelled(scope, "default"),
        )
        .into_iter()
        .map(|r| match r.r#match.and_then(|m| m.path_specifier) {
            Some(
                envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier::Prefix(p),
            ) => p,
            other => panic!("{other:?}"),
        })
        .collect()
    };
    assert_eq!(prefixes(Scope::Mesh), vec!["/mesh", "/both", "/any"]);
    assert_eq!(
        prefixes(Scope::Gateway("istio-system/edge")),
        vec!["/edge", "/both", "/any"]
    );
    assert_eq!(prefixes(Scope::Gateway("default/edge")), vec!["/any"]);
}

#[test]
fn a_passthrough_route_for_every_name_matches_any_sni() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [tls]
  tls:
  - match:
    - sniHosts: [api.example.com]
    route:
    - destination: {host: api.example.com, port: {number: 443}}
  - match:
    - sniHosts: ["*"]
    route:
    - destination: {host: fallback.example.com, port: {number: 443}}
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    let chains: Vec<Vec<String>> = resources.listeners[0]
        .filter_chains
        .iter()
        .map(|c| c.filter_chain_match.clone().unwrap().server_names)
        .collect();
    assert_eq!(
        chains,
        vec![vec!["api.example.com".to_string()], Vec::<String>::new()]
    );
}

#[test]
fn a_server_binds_its_address_and_redirects_to_https() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 198.18.0.9
    hosts: ["shop.example.com"]
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: istio-system}
spec:
  hosts: [shop.example.com]
  gateways: [web]
  http:
  - route:
    - destination: {host: shop.example.com}
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    let listeners: Vec<&str> = resources
        .listeners
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(listeners, ["198.18.0.9_80"]);
    let hosts: Vec<(&str, i32)> = resources.routes[0]
        .virtual_hosts
        .iter()
        .map(|h| (h.name.as_str(), h.require_tls))
        .collect();
    assert_eq!(
        hosts,
        [(
            "shop.example.com:80",
            envoy_types::pb::envoy::config::route::v3::virtual_host::TlsRequirementType::All as i32
        )]
    );
}

mod auto_passthrough;
mod merge;
mod selector;
mod tls;
mod tls_ports;
mod traced;
