use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, listener::v3::Listener, route::v3::RouteConfiguration,
};
use mesh_xds::json::from_yaml;

use crate::config::{DnsAnswers, Snapshot, apply_clusters, apply_listeners, apply_routes};

const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/// A listener whose connection manager has an inline `route_config` with `validate` (the
/// field's YAML, or nothing) and routes whose actions are `actions`.
fn listener(validate: &str, actions: &[&str]) -> Listener {
    let routes: Vec<String> = actions
        .iter()
        .map(|a| format!("{{ match: {{ prefix: / }}, route: {a} }}"))
        .collect();
    from_yaml(&format!(
        r#"
name: l
address: {{ socket_address: {{ address: 127.0.0.1, port_value: 9080 }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM}
          stat_prefix: s
          route_config: {{ name: r, {validate} virtual_hosts: [ {{ name: v, domains: ["*"], routes: [ {} ] }} ] }}
          http_filters: [ {{ name: envoy.filters.http.router }} ]
"#,
        routes.join(", ")
    ))
    .unwrap()
}

/// A snapshot holding the static clusters `names`.
fn with_clusters(names: &[&str]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let clusters: Vec<Cluster> = names
        .iter()
        .map(|name| from_yaml(&format!("name: {name}\ntype: STATIC\nconnect_timeout: 1s")).unwrap())
        .collect();
    apply_clusters(&mut snapshot, &clusters, &[], &DnsAnswers::default()).unwrap();
    snapshot
}

#[test]
fn an_inline_route_config_naming_an_unknown_cluster_is_refused() {
    let mut snapshot = with_clusters(&["known"]);
    let error = apply_listeners(
        &mut snapshot,
        &[listener(
            "",
            &["{ cluster: known }", "{ cluster: missing }"],
        )],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Listener \"l\": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]\
         .routes[1].route.cluster: unknown cluster \"missing\": an inline route_config validates \
         its clusters unless validate_clusters is false"
    );
    assert!(snapshot.listeners.is_empty());
}

#[test]
fn an_unknown_weighted_cluster_is_refused_with_its_index() {
    let mut snapshot = with_clusters(&["a"]);
    let action =
        "{ weighted_clusters: { clusters: [ { name: a, weight: 1 }, { name: b, weight: 1 } ] } }";
    let error = apply_listeners(&mut snapshot, &[listener("", &[action])], &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Listener \"l\": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]\
         .routes[0].route.weighted_clusters.clusters[1].name: unknown cluster \"b\": an inline \
         route_config validates its clusters unless validate_clusters is false"
    );
}

#[test]
fn known_clusters_and_explicit_validate_true_are_accepted() {
    let mut snapshot = with_clusters(&["known"]);
    apply_listeners(
        &mut snapshot,
        &[listener(
            "validate_clusters: true,",
            &["{ cluster: known }"],
        )],
        &[],
    )
    .unwrap();
    assert!(snapshot.listeners.contains_key("l"));
}

#[test]
fn validate_clusters_false_lets_an_unknown_cluster_through() {
    let mut snapshot = Snapshot::default();
    apply_listeners(
        &mut snapshot,
        &[listener(
            "validate_clusters: false,",
            &["{ cluster: missing }"],
        )],
        &[],
    )
    .unwrap();
    assert!(snapshot.listeners.contains_key("l"));
}

#[test]
fn rds_tables_are_not_validated() {
    let mut snapshot = Snapshot::default();
    let table: RouteConfiguration = from_yaml(
        "name: r\nvirtual_hosts: [ { name: v, domains: ['*'], routes: [ \
         { match: { prefix: / }, route: { cluster: missing } } ] } ]",
    )
    .unwrap();
    apply_routes(&mut snapshot, &[table], &[]).unwrap();
    assert!(snapshot.routes.contains_key("r"));
}
