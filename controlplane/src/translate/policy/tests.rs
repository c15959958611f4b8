use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster::LbPolicy};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::{
    mesh_config::{DEFAULT_ROOT_NAMESPACE, MeshConfig},
    model::test_support::{istio as resource, valid_snapshot as snapshot_in},
    translate::{Proxy, ProxyKind, sidecar},
};

const WEB: &str = "web.shop.svc.cluster.local";

fn rule(namespace: &str, name: &str, spec: Value) -> Value {
    resource("DestinationRule", namespace, name, spec)
}

/// web, two ports, one endpoint per version, declared as Istio lets a mesh without Kubernetes
/// declare it.
fn web() -> Value {
    resource(
        "ServiceEntry",
        "shop",
        "web",
        json!({
            "hosts": [WEB],
            "location": "MESH_INTERNAL",
            "resolution": "STATIC",
            "ports": [
                {"number": 8080, "name": "http", "protocol": "HTTP"},
                {"number": 9090, "name": "tcp", "protocol": "TCP"},
            ],
            "endpoints": [
                {"address": "198.18.0.30", "labels": {"version": "v1"}},
                {"address": "198.18.0.31", "labels": {"version": "v2"}},
            ],
        }),
    )
}

fn snapshot(resources: &[Value]) -> Snapshot {
    snapshot_in(resources, &MeshConfig::default())
}

fn proxy(namespace: &str) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.10".to_string()],
        pod: "client-1".to_string(),
        namespace: namespace.to_string(),
        labels: BTreeMap::from([("app".to_string(), "client".to_string())]),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

/// Each of web's clusters: its name, load balancer and connect timeout in milliseconds.
fn web_clusters(resources: &[Value]) -> Vec<(String, LbPolicy, i64)> {
    let out = sidecar(&snapshot(resources), &proxy("front"));
    let web = out.clusters.iter().filter(|c| c.name.ends_with(WEB));
    web.map(|c| {
        let timeout = c.connect_timeout.unwrap();
        let millis = timeout.seconds * 1000 + i64::from(timeout.nanos) / 1_000_000;
        (c.name.clone(), c.lb_policy(), millis)
    })
    .collect()
}

fn expected(rows: &[(&str, LbPolicy, i64)]) -> Vec<(String, LbPolicy, i64)> {
    let rows = rows.iter();
    let mut rows: Vec<_> = rows
        .map(|(name, lb, ms)| (format!("{name}{WEB}"), *lb, *ms))
        .collect();
    // Clusters come in name order: `outbound|8080||…` after its subsets.
    rows.sort();
    rows
}

#[test]
fn without_a_rule_clusters_get_istio_s_defaults() {
    use LbPolicy::LeastRequest;
    assert_eq!(
        web_clusters(&[web()]),
        expected(&[
            ("outbound|8080||", LeastRequest, 10_000),
            ("outbound|9090||", LeastRequest, 10_000),
        ])
    );
    let unspecified = rule(
        "shop",
        "web",
        json!({"host": WEB, "trafficPolicy": {"loadBalancer": {"simple": "UNSPECIFIED"}}}),
    );
    assert_eq!(
        web_clusters(&[web(), unspecified]),
        expected(&[
            ("outbound|8080||", LeastRequest, 10_000),
            ("outbound|9090||", LeastRequest, 10_000),
        ])
    );
}

/// A subset beats a port, a port beats the rule; port-level settings replace the whole policy
/// they override, a subset's top-level settings replace only what they set.
#[test]
fn subset_beats_port_beats_rule() {
    use LbPolicy::{LeastRequest, Random, RoundRobin};
    let rule = rule(
        "shop",
        "web",
        json!({
            "host": WEB,
            "trafficPolicy": {
                "loadBalancer": {"simple": "RANDOM"},
                "connectionPool": {"tcp": {"connectTimeout": "2s"}},
                "portLevelSettings": [
                    {"port": {"number": 9090}, "loadBalancer": {"simple": "ROUND_ROBIN"}},
                ],
            },
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"},
                 "trafficPolicy": {"loadBalancer": {"simple": "LEAST_CONN"}}},
                {"name": "v3", "labels": {"version": "v3"},
                 "trafficPolicy": {
                     "connectionPool": {"tcp": {"connectTimeout": "500ms"}},
                     "portLevelSettings": [
                         {"port": {"number": 8080}, "loadBalancer": {"simple": "ROUND_ROBIN"}},
                     ],
                 }},
            ],
        }),
    );
    assert_eq!(
        web_clusters(&[web(), rule]),
        expected(&[
            ("outbound|8080||", Random, 2_000),
            ("outbound|8080|v1|", Random, 2_000),
            ("outbound|8080|v2|", LeastRequest, 2_000),
            ("outbound|8080|v3|", RoundRobin, 10_000),
            ("outbound|9090||", RoundRobin, 10_000),
            ("outbound|9090|v1|", RoundRobin, 10_000),
            ("outbound|9090|v2|", LeastRequest, 10_000),
            ("outbound|9090|v3|", RoundRobin, 500),
        ])
    );
}

/// Each of web's clusters: its name, its four limits (connections, pending requests, requests,
/// retries) and the consecutive 5xx errors its outlier detection ejects after, if it has one.
fn web_limits(resources: &[Value]) -> Vec<(String, [u32; 4], Option<u32>)> {
    let out = sidecar(&snapshot(resources), &proxy("front"));
    let web = out.clusters.iter().filter(|c| c.name.ends_with(WEB));
    web.map(|c: &Cluster| {
        let thresholds = &c.circuit_breakers.as_ref().unwrap().thresholds;
        assert_eq!(thresholds.len(), 1);
        let t = &thresholds[0];
        let limits = [
            t.max_connections,
            t.max_pending_requests,
            t.max_requests,
            t.max_retries,
        ]
        .map(|v| v.unwrap().value);
        let ejects_after = c
            .outlier_detection
            .as_ref()
            .map(|o| o.consecutive_5xx.unwrap().value);
        (c.name.clone(), limits, ejects_after)
    })
    .collect()
}

/// Connection limits and outlier detection follow the precedence of the rest of the policy:
/// a port-level entry replaces the rule's policy whole (so what it leaves out is unlimited, or
/// not detected), a subset replaces the settings it sets, and a subset's own port-level entry
/// replaces everything.
#[test]
fn limits_and_outlier_detection_follow_subset_port_rule_precedence() {
    const MAX: u32 = u32::MAX;
    let rule = rule(
        "shop",
        "web",
        json!({
            "host": WEB,
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 1, "connectTimeout": "3s"},
                    "http": {"http1MaxPendingRequests": 2, "http2MaxRequests": 3, "maxRetries": 4},
                },
                "outlierDetection": {"consecutive5xxErrors": 5, "interval": "1s"},
                "portLevelSettings": [
                    {"port": {"number": 9090}, "outlierDetection": {"consecutive5xxErrors": 9}},
                ],
            },
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"},
                 "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 10}}}},
                {"name": "v2", "labels": {"version": "v2"},
                 "trafficPolicy": {
                     "outlierDetection": {"consecutive5xxErrors": 2},
                     "portLevelSettings": [
                         {"port": {"number": 8080},
                          "connectionPool": {"http": {"maxRetries": 20}}},
                     ],
                 }},
            ],
        }),
    );
    let row = |name: &str, limits, ejects_after| (format!("{name}{WEB}"), limits, ejects_after);
    assert_eq!(
        web_limits(&[web(), rule]),
        // Clusters come in name order: `outbound|8080||…` after its subsets.
        [
            row("outbound|8080|v1|", [10, MAX, MAX, MAX], Some(5)),
            row("outbound|8080|v2|", [MAX, MAX, MAX, 20], None),
            row("outbound|8080||", [1, 2, 3, 4], Some(5)),
            row("outbound|9090|v1|", [10, MAX, MAX, MAX], Some(9)),
            row("outbound|9090|v2|", [MAX; 4], Some(2)),
            row("outbound|9090||", [MAX; 4], Some(9)),
        ]
    );
}

/// Without a rule, clusters are unlimited and eject nothing, as Istio's.
#[test]
fn without_a_rule_clusters_are_unlimited_and_eject_nothing() {
    let row = |name: &str| (format!("{name}{WEB}"), [u32::MAX; 4], None);
    assert_eq!(
        web_limits(&[web()]),
        [row("outbound|8080||"), row("outbound|9090||")]
    );
}

fn chosen(resources: &[Value], proxy_namespace: &str) -> Option<String> {
    chosen_in(&snapshot(resources), proxy_namespace)
}

fn chosen_in(snapshot: &Snapshot, proxy_namespace: &str) -> Option<String> {
    let service = snapshot.service(WEB, "shop").unwrap().clone();
    let rule = destination_rule_for(snapshot, proxy_namespace, &BTreeMap::new(), &service)?;
    Some(format!(
        "{}/{}",
        rule.resource.namespace(),
        rule.resource.name()
    ))
}

#[test]
fn the_most_specific_rule_of_the_nearest_namespace_applies() {
    let host = |host: &str| json!({"host": host});
    let root = rule(
        DEFAULT_ROOT_NAMESPACE,
        "root",
        host("*.shop.svc.cluster.local"),
    );
    let elsewhere = rule("elsewhere", "elsewhere", host(WEB));
    let service_ns = rule("shop", "exact", host(WEB));
    let service_wild = rule("shop", "wild", host("*.svc.cluster.local"));
    let client_wide = rule("front", "wide", host("*"));
    let client_narrow = rule("front", "narrow", host("*.shop.svc.cluster.local"));
    let all = [
        web(),
        root.clone(),
        elsewhere.clone(),
        service_wild.clone(),
        service_ns.clone(),
        client_wide.clone(),
        client_narrow,
    ];
    // The proxy's namespace first, even for a wildcard; there the longer wildcard wins.
    assert_eq!(chosen(&all, "front").as_deref(), Some("front/narrow"));
    let wide_only = [web(), service_ns.clone(), client_wide];
    assert_eq!(chosen(&wide_only, "front").as_deref(), Some("front/wide"));
    // Then the service's namespace, where the exact host beats an older wildcard.
    assert_eq!(chosen(&all, "back").as_deref(), Some("shop/exact"));
    // Then the root namespace; a rule in any other namespace never applies.
    let no_service_rule = [web(), root, elsewhere.clone()];
    assert_eq!(
        chosen(&no_service_rule, "back").as_deref(),
        Some("istio-system/root")
    );
    assert_eq!(chosen(&[web(), elsewhere], "back"), None);
}

#[test]
fn a_rule_not_exported_to_the_proxy_does_not_apply() {
    let private = rule("shop", "private", json!({"host": WEB, "exportTo": ["."]}));
    let public = rule(DEFAULT_ROOT_NAMESPACE, "public", json!({"host": WEB}));
    let resources = [web(), private, public];
    assert_eq!(chosen(&resources, "shop").as_deref(), Some("shop/private"));
    assert_eq!(
        chosen(&resources, "back").as_deref(),
        Some("istio-system/public")
    );
}

#[test]
fn the_root_namespace_is_the_mesh_config_s() {
    let mesh = MeshConfig {
        root_namespace: "mesh-root".to_string(),
        ..MeshConfig::default()
    };
    let in_istio_system = rule(DEFAULT_ROOT_NAMESPACE, "istio", json!({"host": WEB}));
    let in_mesh_root = rule("mesh-root", "configured", json!({"host": WEB}));
    let both = snapshot_in(&[web(), in_istio_system.clone(), in_mesh_root], &mesh);
    assert_eq!(
        chosen_in(&both, "back").as_deref(),
        Some("mesh-root/configured")
    );
    // istio-system is just another namespace once the root is elsewhere.
    let default_only = snapshot_in(&[web(), in_istio_system], &mesh);
    assert_eq!(chosen_in(&default_only, "back"), None);
}

mod selector;
