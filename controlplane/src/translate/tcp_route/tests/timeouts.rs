//! The timeouts of a TCP proxy: `connectionPool.tcp.idleTimeout` and `maxConnectionDuration`
//! of the DestinationRule the proxy uses for the destination.

use pretty_assertions::assert_eq;

use super::*;
use crate::model::test_support::{istio, valid_snapshot};

fn resource(kind: &str, name: &str, spec: Value) -> Value {
    istio(kind, "default", name, spec)
}

/// mongodb on two TCP ports, with a v1 and a v2 endpoint.
fn mongodb() -> Value {
    resource(
        "ServiceEntry",
        "mongodb",
        json!({
            "hosts": [MONGODB],
            "location": "MESH_INTERNAL",
            "resolution": "STATIC",
            "ports": [
                {"number": 27017, "name": "mongo", "protocol": "MONGO"},
                {"number": 27018, "name": "tcp", "protocol": "TCP"},
            ],
            "endpoints": [
                {"address": "198.18.0.40", "labels": {"version": "v1"}},
                {"address": "198.18.0.41", "labels": {"version": "v2"}},
            ],
        }),
    )
}

fn rule(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["host"] = json!("mongodb");
    resource("DestinationRule", name, spec)
}

fn tcp(idle: &str, max: &str) -> Value {
    json!({"connectionPool": {"tcp": {"idleTimeout": idle, "maxConnectionDuration": max}}})
}

fn snapshot_of(resources: &[Value]) -> Snapshot {
    valid_snapshot(resources, &MeshConfig::default())
}

/// The `(idle_timeout, max_downstream_connection_duration)` in seconds of each chain a proxy
/// with `labels` has for mongodb on `port`, when the route is `route` (none: no VirtualService).
fn timeouts(
    resources: &[Value],
    labels: &[(&str, &str)],
    port: u16,
    route: Option<Value>,
) -> Vec<(Option<i64>, Option<i64>)> {
    let mut resources = resources.to_vec();
    resources.push(mongodb());
    if let Some(route) = route {
        let spec = json!({"hosts": ["mongodb"], "tcp": [{"route": route}]});
        resources.push(resource("VirtualService", "mongodb", spec));
    }
    let proxy = Proxy {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..proxy()
    };
    let snapshot = snapshot_of(&resources);
    let scope = EgressScope::unrestricted();
    sidecar_chains(&snapshot, &proxy, &scope, port, (MONGODB, Protocol::Tcp))
        .into_iter()
        .map(|(_, filter)| {
            let Some(ConfigType::TypedConfig(any)) = filter.config_type else {
                panic!("{filter:?}")
            };
            let proxy = TcpProxy::decode(any.value.as_slice()).unwrap();
            for d in [proxy.idle_timeout, proxy.max_downstream_connection_duration]
                .iter()
                .flatten()
            {
                assert_eq!(d.nanos, 0, "{d:?}");
            }
            (
                proxy.idle_timeout.map(|d| d.seconds),
                proxy.max_downstream_connection_duration.map(|d| d.seconds),
            )
        })
        .collect()
}

fn to(subset: &str) -> Option<Value> {
    Some(json!([{"destination": {"host": "mongodb", "subset": subset}}]))
}

#[test]
fn the_rule_s_idle_timeout_and_max_connection_duration_reach_the_tcp_proxy() {
    let rules = [rule(
        "mongodb",
        json!({"trafficPolicy": tcp("30s", "1h30m")}),
    )];
    let expected = vec![(Some(30), Some(5400))];
    // Through a VirtualService's route, and to the service itself without one.
    assert_eq!(timeouts(&rules, &[], 27017, to("")), expected);
    assert_eq!(timeouts(&rules, &[], 27017, None), expected);
}

#[test]
fn without_settings_the_idle_timeout_is_an_hour_and_connections_last() {
    assert_eq!(timeouts(&[], &[], 27017, None), vec![(Some(3600), None)]);
    let http_only = rule(
        "mongodb",
        json!({"trafficPolicy": {"connectionPool": {"http": {"idleTimeout": "5s"}}}}),
    );
    assert_eq!(
        timeouts(&[http_only], &[], 27017, to("")),
        vec![(Some(3600), None)]
    );
}

#[test]
fn subsets_and_ports_override_the_rule_as_for_the_cluster() {
    let rule = rule(
        "mongodb",
        json!({
            "trafficPolicy": {
                "connectionPool": {"tcp": {"idleTimeout": "30s", "maxConnectionDuration": "300s"}},
                "portLevelSettings": [
                    {"port": {"number": 27017}, "connectionPool": {"tcp": {"idleTimeout": "45s"}}},
                ],
            },
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"}, "trafficPolicy": tcp("20s", "60s")},
            ],
        }),
    );
    let rules = [rule];
    // The port's settings replace the rule's whole: no maximum duration on 27017.
    assert_eq!(timeouts(&rules, &[], 27017, to("")), vec![(Some(45), None)]);
    assert_eq!(
        timeouts(&rules, &[], 27017, to("v1")),
        vec![(Some(45), None)]
    );
    assert_eq!(
        timeouts(&rules, &[], 27018, to("v1")),
        vec![(Some(30), Some(300))]
    );
    assert_eq!(
        timeouts(&rules, &[], 27017, to("v2")),
        vec![(Some(20), Some(60))]
    );
}

#[test]
fn a_weighted_route_takes_the_timeouts_of_its_first_destination() {
    let rule = rule(
        "mongodb",
        json!({"subsets": [
            {"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": tcp("10s", "100s")},
            {"name": "v2", "labels": {"version": "v2"}, "trafficPolicy": tcp("20s", "200s")},
        ]}),
    );
    let split = |first: &str, second: &str| {
        Some(json!([
            {"destination": {"host": "mongodb", "subset": first}, "weight": 10},
            {"destination": {"host": "mongodb", "subset": second}, "weight": 90},
        ]))
    };
    let rules = [rule];
    assert_eq!(
        timeouts(&rules, &[], 27017, split("v1", "v2")),
        vec![(Some(10), Some(100))]
    );
    assert_eq!(
        timeouts(&rules, &[], 27017, split("v2", "v1")),
        vec![(Some(20), Some(200))]
    );
}

#[test]
fn a_rule_selecting_the_workload_decides_for_it() {
    let rules = [
        rule("everyone", json!({"trafficPolicy": tcp("30s", "300s")})),
        rule(
            "canary",
            json!({
                "workloadSelector": {"matchLabels": {"role": "canary"}},
                "trafficPolicy": tcp("5s", "50s"),
            }),
        ),
    ];
    assert_eq!(
        timeouts(&rules, &[("role", "canary")], 27017, None),
        vec![(Some(5), Some(50))]
    );
    assert_eq!(
        timeouts(&rules, &[("role", "stable")], 27017, None),
        vec![(Some(30), Some(300))]
    );
}
