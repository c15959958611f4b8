//! Clusters warming on SDS secrets, rebuilt when a secret changes, and secrets refused.

use std::sync::Arc;

use envoy_types::pb::envoy::{
    config::{cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment},
    extensions::transport_sockets::tls::v3::Secret,
};
use mesh_xds::json::from_yaml;
use rcgen::{CertificateParams, KeyPair};

use crate::config::{
    DnsAnswers, Snapshot, apply_clusters, apply_endpoints, apply_listeners, apply_secrets,
    eds_service_names, sds_secret_names,
};
use crate::{
    config::compile::tests::{HCM, ROUTER},
    tls::tests::self_signed,
};

const TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

/// A CA certificate as PEM.
fn ca_pem() -> String {
    let key = KeyPair::generate().unwrap();
    CertificateParams::new(vec!["ca.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem()
}

fn ca_secret(name: &str, pem: &str) -> Secret {
    from_yaml(&format!(
        "{{name: {name}, validation_context: {{trusted_ca: {{inline_string: {pem:?}}}}}}}"
    ))
    .unwrap()
}

/// A cluster of `kind` (`type: EDS` or a static endpoint) whose TLS trusts the SDS secret `ca`.
fn cluster(name: &str, discovery: &str, ca: &str) -> Cluster {
    from_yaml(&format!(
        "{{name: {name}, {discovery}, transport_socket: {{name: envoy.transport_sockets.tls, \
         typed_config: {{\"@type\": {TLS}, sni: a.example, common_tls_context: \
         {{validation_context_sds_secret_config: {{name: {ca}, sds_config: {{ads: {{}}}}}}}}}}}}}}"
    ))
    .unwrap()
}

const EDS: &str = "type: EDS, eds_cluster_config: {service_name: svc, eds_config: {ads: {}}}";
const STATIC: &str = "type: STATIC, load_assignment: {cluster_name: s, endpoints: [{lb_endpoints: \
     [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]}";

fn plain(name: &str) -> Cluster {
    from_yaml(&format!("{{name: {name}, {EDS}}}")).unwrap()
}

fn assignment() -> ClusterLoadAssignment {
    from_yaml(
        "{cluster_name: svc, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: \
         {address: 10.0.0.1, port_value: 80}}}}]}]}",
    )
    .unwrap()
}

/// Applies `clusters`, which must be accepted.
fn add_clusters(snapshot: &mut Snapshot, clusters: &[Cluster]) {
    apply_clusters(snapshot, clusters, &[], &DnsAnswers::default()).unwrap();
}

/// Applies secret `name`: a new CA every time.
fn add_ca(snapshot: &mut Snapshot, name: &str) {
    apply_secrets(snapshot, &[ca_secret(name, &ca_pem())], &[]).unwrap();
}

/// A bootstrap whose static clusters are `c`, followed by `rest`.
fn bootstrap_with(c: &Cluster, rest: &str) -> String {
    let json = serde_json::to_string(&mesh_xds::json::to_json(c).unwrap()).unwrap();
    format!("node: {{id: sidecar}}\nstatic_resources:\n  clusters:\n  - {json}\n{rest}")
}

fn names(snapshot: &Snapshot) -> Vec<String> {
    sds_secret_names(snapshot).into_iter().collect()
}

fn fingerprint(snapshot: &Snapshot, cluster: &str) -> u64 {
    snapshot.clusters[cluster]
        .tls
        .as_ref()
        .unwrap()
        .fingerprint()
}

#[test]
fn a_cluster_warms_until_its_secret_arrives() {
    let mut snapshot = Snapshot::default();
    let c = cluster("c", EDS, "ca");
    add_clusters(&mut snapshot, &[c]);
    assert!(!snapshot.clusters.contains_key("c"));
    let warming = &snapshot.warming_clusters["c"];
    assert_eq!(warming.missing.iter().collect::<Vec<_>>(), ["ca"]);
    assert_eq!(warming.eds_service.as_deref(), Some("svc"));
    assert_eq!(names(&snapshot), ["ca"]);
    assert_eq!(
        eds_service_names(&snapshot).into_iter().collect::<Vec<_>>(),
        ["svc"]
    );
    // Its assignment arrives while it warms, and is kept for it.
    apply_endpoints(&mut snapshot, &[assignment()], &[]).unwrap();
    assert!(!snapshot.endpoints.contains_key("c"));
    let endpoints = snapshot.warming_clusters["c"].endpoints.clone().unwrap();
    assert_eq!(endpoints.endpoints().len(), 1);

    add_ca(&mut snapshot, "ca");
    assert!(snapshot.warming_clusters.is_empty());
    assert!(snapshot.clusters["c"].tls.is_some());
    assert!(Arc::ptr_eq(&snapshot.endpoints["c"], &endpoints));
    assert_eq!(snapshot.sds_clusters["c"].secrets.len(), 1);
}

#[test]
fn a_changed_secret_rebuilds_only_the_tls_of_the_clusters_using_it() {
    let mut snapshot = Snapshot::default();
    let first = ca_pem();
    apply_secrets(&mut snapshot, &[ca_secret("ca", &first)], &[]).unwrap();
    let clusters = [
        cluster("a", STATIC, "ca"),
        cluster("b", STATIC, "other"),
        plain("p"),
    ];
    add_clusters(&mut snapshot, &clusters);
    assert!(snapshot.clusters.contains_key("a"), "resolved at once");
    assert_eq!(snapshot.warming_clusters.keys().collect::<Vec<_>>(), ["b"]);
    let a = Arc::clone(&snapshot.clusters["a"]);

    // The same secret again (state of the world resends them) changes nothing.
    apply_secrets(&mut snapshot, &[ca_secret("ca", &first)], &[]).unwrap();
    assert!(Arc::ptr_eq(&snapshot.clusters["a"], &a));

    // A new CA: new TLS, same breaker (the cluster is not recompiled as a whole).
    add_ca(&mut snapshot, "ca");
    let rebuilt = &snapshot.clusters["a"];
    assert_ne!(
        fingerprint(&snapshot, "a"),
        a.tls.as_ref().unwrap().fingerprint()
    );
    assert!(Arc::ptr_eq(&rebuilt.breaker, &a.breaker));
    assert!(
        snapshot.warming_clusters.contains_key("b"),
        "still waiting for other"
    );
}

#[test]
fn an_updated_cluster_that_warms_leaves_its_previous_version_active() {
    let mut snapshot = Snapshot::default();
    add_ca(&mut snapshot, "ca");
    add_clusters(&mut snapshot, &[cluster("c", STATIC, "ca")]);
    let active = Arc::clone(&snapshot.clusters["c"]);
    add_clusters(&mut snapshot, &[cluster("c", STATIC, "ca2")]);
    assert!(Arc::ptr_eq(&snapshot.clusters["c"], &active));
    assert!(snapshot.warming_clusters.contains_key("c"));
    assert_eq!(names(&snapshot), ["ca", "ca2"]);
    add_ca(&mut snapshot, "ca2");
    assert!(!Arc::ptr_eq(&snapshot.clusters["c"], &active));
    assert!(snapshot.warming_clusters.is_empty());
    // `ca` is referenced by no cluster any more: it goes with the next cluster update.
    assert_eq!(names(&snapshot), ["ca2"]);
    apply_clusters(&mut snapshot, &[], &[], &DnsAnswers::default()).unwrap();
    assert_eq!(snapshot.secrets.keys().collect::<Vec<_>>(), ["ca2"]);
}

#[test]
fn removed_secrets_stay_while_referenced_and_go_with_their_clusters() {
    let mut snapshot = Snapshot::default();
    add_ca(&mut snapshot, "ca");
    add_clusters(&mut snapshot, &[cluster("c", STATIC, "ca")]);
    let tls = fingerprint(&snapshot, "c");
    apply_secrets(&mut snapshot, &[], &["ca".to_owned()]).unwrap();
    assert!(snapshot.secrets.contains_key("ca"));
    assert_eq!(fingerprint(&snapshot, "c"), tls);
    apply_clusters(
        &mut snapshot,
        &[],
        &["c".to_owned()],
        &DnsAnswers::default(),
    )
    .unwrap();
    assert!(snapshot.secrets.is_empty());
    assert!(snapshot.sds_clusters.is_empty());
    assert!(names(&snapshot).is_empty());
}

#[test]
fn a_bad_secret_is_refused_by_name_and_field() {
    let mut snapshot = Snapshot::default();
    let garbage = ca_secret("ca", "-----BEGIN CERTIFICATE-----\nAAAA\n");
    assert_eq!(
        apply_secrets(&mut snapshot, &[garbage], &[])
            .unwrap_err()
            .to_string(),
        "Secret \"ca\": validation_context.trusted_ca.inline_string: inline_string: invalid PEM: \
         section end \"-----END CERTIFICATE-----\" missing"
    );
    let twice = [ca_secret("ca", &ca_pem()), ca_secret("ca", &ca_pem())];
    assert_eq!(
        apply_secrets(&mut snapshot, &twice, &[])
            .unwrap_err()
            .to_string(),
        "Secret \"ca\": name: appears more than once in the response"
    );
}

#[test]
fn a_secret_of_the_wrong_type_is_refused_for_the_cluster_using_it() {
    let mut snapshot = Snapshot::default();
    add_clusters(&mut snapshot, &[cluster("c", STATIC, "ca")]);
    let (cert, key) = self_signed();
    let certificate: Secret = from_yaml(&format!(
        "{{name: ca, tls_certificate: {{certificate_chain: {{inline_string: {cert:?}}}, \
         private_key: {{inline_string: {key:?}}}}}}}"
    ))
    .unwrap();
    assert_eq!(
        apply_secrets(&mut snapshot, &[certificate], &[])
            .unwrap_err()
            .to_string(),
        "Secret \"ca\": tls_certificate: cannot be used by Cluster \"c\": \
         transport_socket.typed_config.common_tls_context.validation_context_sds_secret_config.\
         name: SDS secret \"ca\" is not a validation_context"
    );
}

#[test]
fn a_warming_cluster_is_known_to_inline_routes() {
    let mut snapshot = Snapshot::default();
    add_clusters(&mut snapshot, &[cluster("c", STATIC, "ca")]);
    let listener = |cluster: &str| {
        crate::config::compile::tests::listener(&format!(
            r#"
name: l
address: {{ socket_address: {{ address: 0.0.0.0, port_value: 1 }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM}
          stat_prefix: l
          route_config: {{ virtual_hosts: [ {{ name: v, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: {cluster} }} }} ] }} ] }}
          http_filters: [ {{ name: envoy.filters.http.router, typed_config: {{ "@type": {ROUTER} }} }} ]
"#
        ))
    };
    assert_eq!(
        apply_listeners(&mut snapshot, &[listener("unknown")], &[])
            .unwrap_err()
            .reason,
        "unknown cluster \"unknown\": an inline route_config validates its clusters unless \
         validate_clusters is false"
    );
    apply_listeners(&mut snapshot, &[listener("c")], &[]).unwrap();
    assert!(snapshot.listeners.contains_key("l"));
}

#[test]
fn a_static_cluster_of_the_bootstrap_may_take_its_secrets_over_sds() {
    let yaml = bootstrap_with(&cluster("c", STATIC, "ca"), "");
    let bootstrap =
        crate::bootstrap::Bootstrap::parse(&yaml, std::path::Path::new("b.yaml")).unwrap();
    let snapshot = &bootstrap.static_snapshot;
    assert!(!snapshot.clusters.contains_key("c"));
    assert!(snapshot.warming_clusters.contains_key("c"));
    assert_eq!(names(snapshot), ["ca"]);
}

#[test]
fn the_ads_cluster_cannot_wait_for_secrets_over_sds() {
    let yaml = bootstrap_with(
        &cluster("xds", STATIC, "ca"),
        "dynamic_resources:\n  lds_config: {ads: {}}\n  cds_config: {ads: {}}\n  \
         ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: xds}}]}\n",
    );
    assert_eq!(
        crate::bootstrap::Bootstrap::parse(&yaml, std::path::Path::new("b.yaml"))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(
            "bootstrap b.yaml: dynamic_resources.ads_config.grpc_services[0].envoy_grpc.\
             cluster_name: cluster \"xds\" waits for secrets over SDS ([\"ca\"]), which would \
             come over the ADS stream it carries: give it static secrets"
                .to_owned()
        )
    );
}

#[test]
fn a_combined_context_with_san_matchers_warms_until_its_ca_arrives() {
    let mut snapshot = Snapshot::default();
    let c: Cluster = from_yaml(&format!(
        "{{name: c, {STATIC}, transport_socket: {{name: envoy.transport_sockets.tls, \
         typed_config: {{\"@type\": {TLS}, common_tls_context: {{combined_validation_context: \
         {{default_validation_context: {{match_typed_subject_alt_names: [{{san_type: DNS, \
         matcher: {{exact: a.example}}}}]}}, validation_context_sds_secret_config: {{name: ca, \
         sds_config: {{ads: {{}}}}}}}}}}}}}}}}"
    ))
    .unwrap();
    add_clusters(&mut snapshot, &[c]);
    assert_eq!(snapshot.warming_clusters.keys().collect::<Vec<_>>(), ["c"]);
    add_ca(&mut snapshot, "ca");
    assert!(snapshot.clusters["c"].tls.is_some());
    assert!(snapshot.warming_clusters.is_empty());
}
