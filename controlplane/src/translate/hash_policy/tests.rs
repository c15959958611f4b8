use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::{
    cluster::v3::cluster::{LbConfig, LbPolicy},
    route::v3::route_action::hash_policy::PolicySpecifier,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::test_support::{istio, valid_snapshot},
    translate::{Proxy, ProxyKind, sidecar},
};

const WEB: &str = "web.shop.svc.cluster.local";

fn resource(kind: &str, name: &str, spec: Value) -> Value {
    istio(kind, "shop", name, spec)
}

fn web() -> Value {
    resource(
        "ServiceEntry",
        "web",
        json!({
            "hosts": [WEB],
            "location": "MESH_INTERNAL",
            "resolution": "STATIC",
            "ports": [
                {"number": 8080, "name": "http", "protocol": "HTTP"},
                {"number": 9090, "name": "http-admin", "protocol": "HTTP"},
            ],
            "endpoints": [
                {"address": "198.18.0.30", "labels": {"version": "v1"}},
                {"address": "198.18.0.31", "labels": {"version": "v2"}},
            ],
        }),
    )
}

/// By header for the whole rule, by cookie on port 9090, by source IP for subset v2, by query
/// parameter with Maglev for subset v3.
fn hashing_rule() -> Value {
    resource(
        "DestinationRule",
        "web",
        json!({
            "host": WEB,
            "trafficPolicy": {
                "loadBalancer": {"consistentHash": {"httpHeaderName": "x-user"}},
                "portLevelSettings": [{
                    "port": {"number": 9090},
                    "loadBalancer": {"consistentHash": {
                        "httpCookie": {"name": "session", "path": "/", "ttl": "60s",
                                       "attributes": [{"name": "SameSite", "value": "Strict"},
                                                      {"name": "Secure"}]},
                        "ringHash": {"minimumRingSize": 2048},
                    }},
                }],
            },
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"},
                 "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}},
                {"name": "v2", "labels": {"version": "v2"},
                 "trafficPolicy": {"loadBalancer": {"consistentHash": {
                     "useSourceIp": true, "minimumRingSize": 4096}}}},
                {"name": "v3", "labels": {"version": "v3"},
                 "trafficPolicy": {"loadBalancer": {"consistentHash": {
                     "httpQueryParameterName": "shard", "maglev": {"tableSize": 1031}}}}},
            ],
        }),
    )
}

fn snapshot(resources: &[Value]) -> Snapshot {
    valid_snapshot(resources, &MeshConfig::default())
}

fn proxy() -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.10".to_string()],
        pod: "client-1".to_string(),
        namespace: "front".to_string(),
        labels: BTreeMap::from([("app".to_string(), "client".to_string())]),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

/// The readable form of the cookie key of `hashing_rule`.
const COOKIE: &str =
    "cookie session path \"/\" ttl Some((60, 0)) attributes [\"SameSite=Strict\", \"Secure=\"]";

/// A readable form of a hash policy.
fn key(policy: &HashPolicy) -> String {
    assert!(!policy.terminal);
    match policy.policy_specifier.as_ref().unwrap() {
        PolicySpecifier::Header(h) => format!("header {}", h.header_name),
        PolicySpecifier::Cookie(c) => {
            let ttl = c.ttl.as_ref().map(|d| (d.seconds, d.nanos));
            let attributes: Vec<String> = c
                .attributes
                .iter()
                .map(|a| format!("{}={}", a.name, a.value))
                .collect();
            format!(
                "cookie {} path {:?} ttl {ttl:?} attributes {attributes:?}",
                c.name, c.path
            )
        }
        PolicySpecifier::ConnectionProperties(c) => format!("source_ip {}", c.source_ip),
        PolicySpecifier::QueryParameter(q) => format!("query {}", q.name),
        PolicySpecifier::FilterState(f) => format!("filter_state {}", f.key),
    }
}

/// The hash policies of each route of web's virtual host on `port`, by route name.
fn route_hashes(resources: &[Value], port: u16) -> Vec<(String, Vec<String>)> {
    let out = sidecar(&snapshot(resources), &proxy());
    let config = out
        .routes
        .iter()
        .find(|r| r.name == port.to_string())
        .unwrap();
    let host = config
        .virtual_hosts
        .iter()
        .find(|v| v.name == format!("{WEB}:{port}"))
        .unwrap();
    host.routes
        .iter()
        .map(|r| {
            let Some(Action::Route(action)) = &r.action else {
                panic!("a route action");
            };
            (r.name.clone(), action.hash_policy.iter().map(key).collect())
        })
        .collect()
}

#[test]
fn clusters_get_ring_hash_or_maglev_as_istio_emits_them() {
    let out = sidecar(&snapshot(&[web(), hashing_rule()]), &proxy());
    let clusters: Vec<(String, LbPolicy, Option<String>)> = out
        .clusters
        .iter()
        .filter(|c| c.name.ends_with(WEB))
        .map(|c| {
            let config = c.lb_config.as_ref().map(|config| match config {
                LbConfig::RingHashLbConfig(r) => format!(
                    "ring min {:?} max {:?} fn {}",
                    r.minimum_ring_size.map(|m| m.value),
                    r.maximum_ring_size.map(|m| m.value),
                    r.hash_function
                ),
                LbConfig::MaglevLbConfig(m) => {
                    format!("maglev {:?}", m.table_size.map(|t| t.value))
                }
                other => format!("{other:?}"),
            });
            (c.name.clone(), c.lb_policy(), config)
        })
        .collect();
    let ring = |min: u64| Some(format!("ring min Some({min}) max None fn 0"));
    let want = [
        ("outbound|8080||", LbPolicy::RingHash, ring(1024)),
        ("outbound|8080|v1|", LbPolicy::RoundRobin, None),
        ("outbound|8080|v2|", LbPolicy::RingHash, ring(4096)),
        (
            "outbound|8080|v3|",
            LbPolicy::Maglev,
            Some("maglev Some(1031)".to_string()),
        ),
        ("outbound|9090||", LbPolicy::RingHash, ring(2048)),
        ("outbound|9090|v1|", LbPolicy::RoundRobin, None),
        ("outbound|9090|v2|", LbPolicy::RingHash, ring(4096)),
        (
            "outbound|9090|v3|",
            LbPolicy::Maglev,
            Some("maglev Some(1031)".to_string()),
        ),
    ];
    let mut want: Vec<_> = want
        .into_iter()
        .map(|(name, lb, config)| (format!("{name}{WEB}"), lb, config))
        .collect();
    want.sort();
    assert_eq!(clusters, want);
}

#[test]
fn the_default_route_hashes_with_its_cluster_s_key() {
    let hashes = route_hashes(&[web(), hashing_rule()], 8080);
    assert_eq!(
        hashes,
        [("default".to_string(), vec!["header x-user".to_string()])]
    );
    // The cookie's path, ttl and attributes are sent: they shape the cookie the proxy generates.
    let hashes = route_hashes(&[web(), hashing_rule()], 9090);
    assert_eq!(hashes, [("default".to_string(), vec![COOKIE.to_string()])]);
    // Without a consistent hash, no hash policy.
    assert_eq!(
        route_hashes(&[web()], 8080),
        [("default".to_string(), vec![])]
    );
}

#[test]
fn virtual_service_routes_get_one_policy_per_hashing_destination() {
    let vs = resource(
        "VirtualService",
        "web",
        json!({
            "hosts": [WEB],
            "http": [
                {"name": "one", "match": [{"uri": {"prefix": "/one"}}],
                 "route": [{"destination": {"host": WEB, "subset": "v2"}}]},
                {"name": "round-robin", "match": [{"uri": {"prefix": "/rr"}}],
                 "route": [{"destination": {"host": WEB, "subset": "v1"}}]},
                {"name": "split", "match": [{"uri": {"prefix": "/split"}}],
                 "route": [
                     {"destination": {"host": WEB, "subset": "v1"}, "weight": 50},
                     {"destination": {"host": WEB, "subset": "v2"}, "weight": 25},
                     {"destination": {"host": WEB, "subset": "v3"}, "weight": 25},
                     {"destination": {"host": WEB}, "weight": 0},
                 ]},
                {"name": "other-port", "route": [
                    {"destination": {"host": WEB, "port": {"number": 9090}}}]},
            ],
        }),
    );
    let hashes = route_hashes(&[web(), hashing_rule(), vs], 8080);
    let row = |name: &str, keys: &[&str]| {
        (
            name.to_string(),
            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        hashes,
        [
            row("one", &["source_ip true"]),
            row("round-robin", &[]),
            row("split", &["source_ip true", "query shard"]),
            row("other-port", &[COOKIE]),
        ]
    );
}

/// A zero TTL is sent as it is (Envoy's session cookie); no TTL sends none, and no cookie is
/// generated.
#[test]
fn a_zero_cookie_ttl_is_kept_and_an_unset_one_is_not_sent() {
    let cookie = |value: Value| -> Option<HashPolicy> {
        hash_policy(&serde_json::from_value(json!({"httpCookie": value})).unwrap())
    };
    let ttl = |policy: Option<HashPolicy>| match policy.and_then(|p| p.policy_specifier) {
        Some(PolicySpecifier::Cookie(c)) => c.ttl.map(|d| (d.seconds, d.nanos)),
        other => panic!("a cookie: {other:?}"),
    };
    assert_eq!(
        ttl(cookie(json!({"name": "session", "ttl": "0s"}))),
        Some((0, 0))
    );
    assert_eq!(
        ttl(cookie(json!({"name": "session", "ttl": "1.5s"}))),
        Some((1, 500_000_000))
    );
    assert_eq!(ttl(cookie(json!({"name": "session"}))), None);
}
