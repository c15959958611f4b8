//! Applying whole responses to a snapshot: all or nothing, removals, endpoints that follow
//! their clusters.

use std::{net::IpAddr, sync::Arc};

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use mesh_xds::json::from_yaml;

use super::{assignment, cluster, eds_cluster, error_text, http_listener, tcp_listener};
use crate::config::{
    ConfigStore, DnsAnswers, Snapshot, apply_clusters, apply_endpoints, apply_listeners,
    apply_routes, eds_service_names, rds_route_names, refresh_dns, refresh_dns_forever,
    sotw_removals,
};

#[test]
fn listeners_apply_as_a_whole() {
    let store = ConfigStore::new(Snapshot::default());
    store
        .update(|s| {
            apply_listeners(
                s,
                &[
                    http_listener("a", 1, "ra", ""),
                    tcp_listener("b", 2, "          cluster: c"),
                ],
                &[],
            )
        })
        .unwrap();
    let bad = tcp_listener("c", 3, "          cluster: \"\"");
    let error = store
        .update(|s| apply_listeners(s, &[http_listener("a", 10, "ra", ""), bad.clone()], &[]))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Listener \"c\": filter_chains[0].filters[0].typed_config.cluster: must not be empty"
    );
    let snapshot = store.load();
    assert_eq!(
        snapshot.listeners["a"].address.port(),
        1,
        "untouched by the NACK"
    );
    assert_eq!(
        rds_route_names(&snapshot).into_iter().collect::<Vec<_>>(),
        ["ra"]
    );

    // State of the world: `b` is gone from the full set.
    let previous: Vec<String> = vec!["a".into(), "b".into()];
    let next = [http_listener("a", 11, "ra2", "")];
    let removals = sotw_removals(&previous, next.iter().map(|l| l.name.as_str()));
    assert_eq!(removals, ["b"]);
    store
        .update(|s| apply_listeners(s, &next, &removals))
        .unwrap();
    let snapshot = store.load();
    let mut names: Vec<&String> = snapshot.listeners.keys().collect();
    names.sort();
    assert_eq!(names, ["a"]);
    assert_eq!(snapshot.listeners["a"].address.port(), 11);

    let duplicate = apply_listeners(
        &mut Snapshot::default(),
        &[
            tcp_listener("d", 1, "          cluster: c"),
            tcp_listener("d", 2, "          cluster: c"),
        ],
        &[],
    );
    assert_eq!(
        error_text(duplicate),
        "Listener \"d\": name: appears more than once in the response"
    );
}

#[test]
fn routes_apply_and_refuse() {
    let good: RouteConfiguration = from_yaml(
        "name: r\nvirtual_hosts: [ { name: v, domains: ['*'], routes: [ { match: { prefix: / }, route: { cluster: c } } ] } ]",
    )
    .unwrap();
    let bad: RouteConfiguration = from_yaml(
        "name: r\nvirtual_hosts: [ { name: v, domains: ['*'], routes: [ { match: { safe_regex: { regex: 'a(b' } }, route: { cluster: c } } ] } ]",
    )
    .unwrap();
    let store = ConfigStore::new(Snapshot::default());
    store
        .update(|s| apply_routes(s, std::slice::from_ref(&good), &[]))
        .unwrap();
    let before = Arc::clone(&store.load().routes["r"]);
    assert!(
        store
            .update(|s| apply_routes(s, std::slice::from_ref(&bad), &[]))
            .is_err()
    );
    assert!(Arc::ptr_eq(&before, &store.load().routes["r"]));
    store
        .update(|s| apply_routes(s, &[], &["r".to_owned()]))
        .unwrap();
    assert!(store.load().routes.is_empty());
}

#[test]
fn endpoints_follow_clusters() {
    let mut snapshot = Snapshot::default();
    let dns = DnsAnswers::default();
    apply_clusters(
        &mut snapshot,
        &[
            eds_cluster("a", "svc"),
            eds_cluster("b", "svc"),
            eds_cluster("c", ""),
        ],
        &[],
        &dns,
    )
    .unwrap();
    assert_eq!(
        eds_service_names(&snapshot).into_iter().collect::<Vec<_>>(),
        ["c", "svc"]
    );
    assert!(
        snapshot.endpoints.is_empty(),
        "EDS clusters warm until their assignment"
    );

    apply_endpoints(
        &mut snapshot,
        &[assignment("svc", &["10.0.0.1", "10.0.0.2"])],
        &[],
    )
    .unwrap();
    assert!(snapshot.endpoints.contains_key("a"));
    assert!(snapshot.endpoints.contains_key("b"));
    assert!(!snapshot.endpoints.contains_key("c"));

    // An update keeps the in-flight count of an endpoint that stays.
    let held = snapshot.endpoints["a"].endpoints()[0].start_request();
    apply_endpoints(
        &mut snapshot,
        &[assignment("svc", &["10.0.0.1", "10.0.0.3"])],
        &[],
    )
    .unwrap();
    let kept = &snapshot.endpoints["a"].endpoints()[0];
    assert_eq!(kept.address.ip(), "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(kept.in_flight(), 1);
    drop(held);
    assert_eq!(kept.in_flight(), 0);

    // A cluster update with the same service keeps its endpoints; a new service warms again.
    apply_clusters(
        &mut snapshot,
        &[eds_cluster("a", "svc"), eds_cluster("b", "other")],
        &[],
        &dns,
    )
    .unwrap();
    assert!(snapshot.endpoints.contains_key("a"));
    assert!(!snapshot.endpoints.contains_key("b"));

    // A bad assignment is refused whole, even one no cluster uses.
    let mut bad = assignment("unused", &["10.0.0.9"]);
    bad.endpoints[0].lb_endpoints[0].load_balancing_weight =
        Some(envoy_types::pb::google::protobuf::UInt32Value { value: 0 });
    assert_eq!(
        error_text(apply_endpoints(
            &mut snapshot,
            &[assignment("svc", &["10.0.0.4"]), bad],
            &[]
        )),
        "ClusterLoadAssignment \"unused\": endpoints[0].lb_endpoints[0].load_balancing_weight: must be at least 1"
    );

    // Delta removal of an assignment, then of a cluster.
    apply_endpoints(&mut snapshot, &[], &["svc".to_owned()]).unwrap();
    assert!(!snapshot.endpoints.contains_key("a"));
    apply_endpoints(&mut snapshot, &[assignment("svc", &["10.0.0.1"])], &[]).unwrap();
    apply_clusters(&mut snapshot, &[], &["a".to_owned()], &dns).unwrap();
    assert!(!snapshot.clusters.contains_key("a"));
    assert!(!snapshot.endpoints.contains_key("a"));
}

#[test]
fn static_and_dns_clusters_get_endpoints() {
    let mut dns = DnsAnswers::default();
    dns.insert(
        "db.internal",
        vec!["10.1.0.1".parse().unwrap(), "10.1.0.2".parse().unwrap()],
    );
    let strict = cluster(
        "name: strict\ntype: STRICT_DNS\nload_assignment: { cluster_name: strict, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: db.internal, port_value: 5432 } } } } ] } ] }",
    );
    let logical = cluster(
        "name: logical\ntype: LOGICAL_DNS\nload_assignment: { cluster_name: logical, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: db.internal, port_value: 5432 } } } } ] } ] }",
    );
    let unresolved = cluster(
        "name: unresolved\ntype: STRICT_DNS\nload_assignment: { cluster_name: u, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: nowhere.invalid, port_value: 1 } } } } ] } ] }",
    );
    let fixed = cluster(
        "name: fixed\ntype: STATIC\nload_assignment: { cluster_name: fixed, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ] }",
    );
    let mut snapshot = Snapshot::default();
    apply_clusters(
        &mut snapshot,
        &[strict, logical, unresolved, fixed],
        &[],
        &dns,
    )
    .unwrap();
    let addresses = |name: &str| -> Vec<String> {
        snapshot.endpoints[name]
            .endpoints()
            .iter()
            .map(|e| e.address.to_string())
            .collect()
    };
    assert_eq!(addresses("strict"), ["10.1.0.1:5432", "10.1.0.2:5432"]);
    assert_eq!(addresses("logical"), ["10.1.0.1:5432"]);
    assert_eq!(addresses("fixed"), ["127.0.0.1:1"]);
    assert!(!snapshot.endpoints.contains_key("unresolved"));
}

#[tokio::test]
async fn dns_answers_resolve_ip_literals() {
    let c = cluster(
        "name: d\ntype: STRICT_DNS\nload_assignment: { cluster_name: d, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 7 } } } } ] } ] }",
    );
    let answers = DnsAnswers::resolve(std::slice::from_ref(&c)).await;
    let mut expected = DnsAnswers::default();
    expected.insert("127.0.0.1", vec!["127.0.0.1".parse().unwrap()]);
    assert_eq!(answers, expected);
}

fn strict_dns(name: &str, host: &str) -> envoy_types::pb::envoy::config::cluster::v3::Cluster {
    cluster(&format!(
        "name: {name}\ntype: STRICT_DNS\nload_assignment: {{ cluster_name: {name}, endpoints: [ {{ lb_endpoints: [ {{ endpoint: {{ address: {{ socket_address: {{ address: {host}, port_value: 7 }} }} }} }} ] }} ] }}"
    ))
}

#[test]
fn refresh_keeps_counts_and_last_answers() {
    let mut answers = DnsAnswers::default();
    answers.insert("db", vec!["10.2.0.1".parse().unwrap()]);
    let mut snapshot = Snapshot::default();
    apply_clusters(&mut snapshot, &[strict_dns("db", "db")], &[], &answers).unwrap();
    let held = snapshot.endpoints["db"].endpoints()[0].start_request();

    answers.insert(
        "db",
        vec!["10.2.0.1".parse().unwrap(), "10.2.0.2".parse().unwrap()],
    );
    refresh_dns(&mut snapshot, &answers);
    let endpoints = snapshot.endpoints["db"].endpoints();
    assert_eq!(endpoints.len(), 2);
    assert_eq!(
        endpoints[0].in_flight(),
        1,
        "the staying endpoint keeps its count"
    );
    drop(held);

    // No answer this time: the last addresses stay.
    refresh_dns(&mut snapshot, &DnsAnswers::default());
    assert_eq!(snapshot.endpoints["db"].endpoints().len(), 2);
}

#[tokio::test]
async fn refresh_forever_resolves_what_was_missing() {
    let store = Arc::new(ConfigStore::new(Snapshot::default()));
    store
        .update(|s| {
            apply_clusters(
                s,
                &[strict_dns("local", "127.0.0.1")],
                &[],
                &DnsAnswers::default(),
            )
        })
        .unwrap();
    assert!(!store.load().endpoints.contains_key("local"));
    let refresher = tokio::spawn(refresh_dns_forever(
        Arc::clone(&store),
        std::time::Duration::from_millis(10),
    ));
    let address = mesh_testing::eventually(|| async {
        Some(store.load().endpoints.get("local")?.endpoints()[0].address)
    })
    .await
    .unwrap();
    refresher.abort();
    assert_eq!(address.to_string(), "127.0.0.1:7");
}
