//! Listeners warming on SDS secrets, their chains' TLS rebuilt when a secret changes, removed
//! secrets kept while referenced, and static secrets for listeners and clusters from xDS.

use std::{path::Path, sync::Arc};

use envoy_types::pb::envoy::{
    config::{cluster::v3::Cluster, listener::v3::Listener},
    extensions::transport_sockets::tls::v3::Secret,
};
use mesh_xds::json::from_yaml;

use crate::{
    bootstrap::Bootstrap,
    config::{
        DnsAnswers, ListenerConfig, Snapshot, apply_clusters, apply_listeners, apply_secrets,
        rds_route_names, sds_secret_names,
    },
    tls::tests::self_signed as pem,
};

const TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const TCP: &str = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const ADS: &str = "sds_config: {ads: {}}";

/// The secret `name` holding a fresh certificate.
fn certificate(name: &str) -> Secret {
    let (cert, key) = pem();
    from_yaml(&format!(
        "{{name: {name}, tls_certificate: {{certificate_chain: {{inline_string: {cert:?}}}, \
         private_key: {{inline_string: {key:?}}}}}}}"
    ))
    .unwrap()
}

/// The secret `name` holding a CA.
fn trusted(name: &str) -> Secret {
    let (cert, _) = pem();
    from_yaml(&format!(
        "{{name: {name}, validation_context: {{trusted_ca: {{inline_string: {cert:?}}}}}}}"
    ))
    .unwrap()
}

/// Listener `l` with one TCP chain per entry of `chains`: the `common_tls_context` entries of
/// its `DownstreamTlsContext`, with `more` entries beside it.
fn listener_with(chains: &[&str], more: &str) -> Listener {
    let chains: Vec<String> = chains
        .iter()
        .enumerate()
        .map(|(i, common)| {
            format!(
                "{{name: c{i}, filter_chain_match: {{server_names: [s{i}.example]}}, \
                 transport_socket: {{name: tls, typed_config: {{'@type': {TLS}, {more}\
                 common_tls_context: {{{common}}}}}}}, filters: [{{name: t, typed_config: \
                 {{'@type': {TCP}, stat_prefix: s, cluster: c}}}}]}}"
            )
        })
        .collect();
    from_yaml(&format!(
        "{{name: l, address: {{socket_address: {{address: 0.0.0.0, port_value: 443}}}}, \
         filter_chains: [{}]}}",
        chains.join(", ")
    ))
    .unwrap()
}

fn listener(chains: &[&str]) -> Listener {
    listener_with(chains, "")
}

/// `common_tls_context` entries naming certificate `name` over SDS.
fn sds_cert(name: &str) -> String {
    format!("tls_certificate_sds_secret_configs: [{{name: {name}, {ADS}}}]")
}

fn names(snapshot: &Snapshot) -> Vec<String> {
    sds_secret_names(snapshot).into_iter().collect()
}

/// The fingerprint of chain `i`'s TLS.
fn fingerprint(config: &ListenerConfig, i: usize) -> u64 {
    config.filter_chains[i]
        .tls
        .as_ref()
        .unwrap()
        .server
        .fingerprint()
}

#[test]
fn a_listener_warms_until_its_certificate_arrives() {
    let mut snapshot = Snapshot::default();
    apply_listeners(&mut snapshot, &[listener(&[&sds_cert("cert")])], &[]).unwrap();
    assert!(
        !snapshot.listeners.contains_key("l"),
        "not bound while warming"
    );
    let warming = &snapshot.warming_listeners["l"];
    assert_eq!(warming.missing.iter().collect::<Vec<_>>(), ["cert"]);
    assert_eq!(names(&snapshot), ["cert"]);

    // A secret it does not reference changes nothing.
    apply_secrets(&mut snapshot, &[trusted("other")], &[]).unwrap();
    assert!(snapshot.warming_listeners.contains_key("l"));

    apply_secrets(&mut snapshot, &[certificate("cert")], &[]).unwrap();
    assert!(snapshot.warming_listeners.is_empty());
    let active = &snapshot.listeners["l"];
    assert!(active.filter_chains[0].tls.is_some());
    assert_eq!(
        snapshot.sds_listeners["l"]
            .secrets
            .iter()
            .collect::<Vec<_>>(),
        ["cert"]
    );
}

#[test]
fn a_listener_waits_for_every_secret_of_every_chain() {
    let mut snapshot = Snapshot::default();
    let chains = [
        sds_cert("a"),
        format!(
            "{}, validation_context_sds_secret_config: {{name: ca, {ADS}}}",
            sds_cert("b")
        ),
    ];
    let l = listener_with(
        &[&chains[0], &chains[1]],
        "require_client_certificate: true, ",
    );
    apply_listeners(&mut snapshot, &[l], &[]).unwrap();
    assert_eq!(names(&snapshot), ["a", "b", "ca"]);
    apply_secrets(&mut snapshot, &[certificate("a"), certificate("b")], &[]).unwrap();
    let warming = &snapshot.warming_listeners["l"];
    assert_eq!(warming.missing.iter().collect::<Vec<_>>(), ["ca"]);
    assert!(!snapshot.listeners.contains_key("l"));
    apply_secrets(&mut snapshot, &[trusted("ca")], &[]).unwrap();
    assert_eq!(snapshot.listeners["l"].filter_chains.len(), 2);
    assert!(snapshot.warming_listeners.is_empty());
}

#[test]
fn an_updated_listener_that_warms_leaves_its_previous_version_serving() {
    let mut snapshot = Snapshot::default();
    apply_secrets(&mut snapshot, &[certificate("a")], &[]).unwrap();
    apply_listeners(&mut snapshot, &[listener(&[&sds_cert("a")])], &[]).unwrap();
    let active = Arc::clone(&snapshot.listeners["l"]);
    apply_listeners(&mut snapshot, &[listener(&[&sds_cert("b")])], &[]).unwrap();
    assert!(Arc::ptr_eq(&snapshot.listeners["l"], &active));
    assert!(snapshot.warming_listeners.contains_key("l"));
    assert_eq!(names(&snapshot), ["a", "b"]);

    apply_secrets(&mut snapshot, &[certificate("b")], &[]).unwrap();
    assert!(!Arc::ptr_eq(&snapshot.listeners["l"], &active));
    assert!(snapshot.warming_listeners.is_empty());
    // `a` is referenced by nothing any more: it goes with the next listener update.
    assert_eq!(names(&snapshot), ["b"]);
    apply_listeners(&mut snapshot, &[], &[]).unwrap();
    assert_eq!(snapshot.secrets.keys().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn a_changed_secret_rebuilds_only_the_tls_of_the_chains_using_it() {
    let mut snapshot = Snapshot::default();
    let first = certificate("a");
    apply_secrets(&mut snapshot, &[first.clone(), certificate("b")], &[]).unwrap();
    apply_listeners(
        &mut snapshot,
        &[listener(&[&sds_cert("a"), &sds_cert("b")])],
        &[],
    )
    .unwrap();
    let before = Arc::clone(&snapshot.listeners["l"]);

    // The same secret again (state of the world resends them) changes nothing.
    apply_secrets(&mut snapshot, &[first], &[]).unwrap();
    assert!(Arc::ptr_eq(&snapshot.listeners["l"], &before));

    apply_secrets(&mut snapshot, &[certificate("a")], &[]).unwrap();
    let after = &snapshot.listeners["l"];
    assert_ne!(fingerprint(after, 0), fingerprint(&before, 0));
    let tls = |config: &ListenerConfig, i: usize| {
        Arc::clone(&config.filter_chains[i].tls.as_ref().unwrap().server)
    };
    assert!(
        Arc::ptr_eq(&tls(after, 1), &tls(&before, 1)),
        "b's chain kept"
    );
    assert_eq!(after.filter_chains[0].name, "c0");
    assert_eq!(
        after.filter_chains[0].matcher,
        before.filter_chains[0].matcher
    );
}

#[test]
fn removed_secrets_stay_while_a_listener_references_them() {
    let mut snapshot = Snapshot::default();
    apply_secrets(&mut snapshot, &[certificate("a")], &[]).unwrap();
    apply_listeners(&mut snapshot, &[listener(&[&sds_cert("a")])], &[]).unwrap();
    let served = fingerprint(&snapshot.listeners["l"], 0);
    apply_secrets(&mut snapshot, &[], &["a".to_owned()]).unwrap();
    assert!(snapshot.secrets.contains_key("a"));
    assert_eq!(fingerprint(&snapshot.listeners["l"], 0), served);
    apply_listeners(&mut snapshot, &[], &["l".to_owned()]).unwrap();
    assert!(snapshot.secrets.is_empty());
    assert!(snapshot.sds_listeners.is_empty());
    assert!(names(&snapshot).is_empty());
}

#[test]
fn a_warming_listener_is_checked_at_once_and_wrong_secrets_are_refused() {
    let mut snapshot = Snapshot::default();
    let bad = listener_with(&[&sds_cert("a")], "session_timeout: 5s, ");
    assert_eq!(
        apply_listeners(&mut snapshot, &[bad], &[])
            .unwrap_err()
            .to_string(),
        "Listener \"l\": filter_chains[0].transport_socket.typed_config.session_timeout: not \
         supported by mesh-proxy"
    );
    // Waiting for a CA only, a chain still needs its certificate.
    let no_cert = listener(&[&format!(
        "validation_context_sds_secret_config: {{name: ca, {ADS}}}"
    )]);
    assert_eq!(
        apply_listeners(&mut snapshot, &[no_cert], &[])
            .unwrap_err()
            .to_string(),
        "Listener \"l\": filter_chains[0].transport_socket.typed_config.common_tls_context.\
         tls_certificates: is required: a TLS server presents a certificate"
    );
    assert!(snapshot.warming_listeners.is_empty());

    apply_listeners(&mut snapshot, &[listener(&[&sds_cert("a")])], &[]).unwrap();
    assert_eq!(
        apply_secrets(&mut snapshot, &[trusted("a")], &[])
            .unwrap_err()
            .to_string(),
        "Secret \"a\": validation_context: cannot be used by Listener \"l\": filter_chains[0].\
         transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].\
         name: SDS secret \"a\" is not a tls_certificate"
    );
    assert!(snapshot.secrets.is_empty());
}

#[test]
fn a_warming_listener_subscribes_its_routes() {
    let mut snapshot = Snapshot::default();
    let l: Listener = from_yaml(&format!(
        "{{name: l, address: {{socket_address: {{address: 0.0.0.0, port_value: 443}}}}, \
         filter_chains: [{{transport_socket: {{name: tls, typed_config: {{'@type': {TLS}, \
         common_tls_context: {{{}}}}}}}, filters: [{{name: h, typed_config: {{'@type': {HCM}, \
         stat_prefix: h, rds: {{route_config_name: https.443, config_source: {{ads: {{}}}}}}, \
         http_filters: [{{name: r, typed_config: {{'@type': {ROUTER}}}}}]}}}}]}}]}}",
        sds_cert("a")
    ))
    .unwrap();
    apply_listeners(&mut snapshot, &[l], &[]).unwrap();
    assert!(snapshot.listeners.is_empty());
    assert_eq!(
        rds_route_names(&snapshot).into_iter().collect::<Vec<_>>(),
        ["https.443"]
    );
}

#[test]
fn xds_listeners_and_clusters_resolve_the_bootstrap_static_secrets() {
    let secret = |s: Secret| serde_json::to_string(&mesh_xds::json::to_json(&s).unwrap()).unwrap();
    let yaml = format!(
        "static_resources:\n  secrets: [{}, {}]\n",
        secret(certificate("server")),
        secret(trusted("root"))
    );
    let bootstrap = Bootstrap::parse(&yaml, Path::new("b.yaml")).unwrap();
    let mut snapshot = bootstrap.static_snapshot;
    let upstream =
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
    let cluster = |ca: &str| -> Cluster {
        from_yaml(&format!(
            "{{name: c, type: EDS, transport_socket: {{name: tls, typed_config: {{'@type': \
             {upstream}, common_tls_context: {{validation_context_sds_secret_config: {{name: \
             {ca}}}}}}}}}}}"
        ))
        .unwrap()
    };
    let dns = DnsAnswers::default();
    apply_clusters(&mut snapshot, &[cluster("root")], &[], &dns).unwrap();
    assert!(snapshot.clusters["c"].tls.is_some());
    assert!(snapshot.sds_clusters.is_empty(), "nothing to follow");
    assert_eq!(
        apply_clusters(&mut snapshot, &[cluster("nope")], &[], &dns)
            .unwrap_err()
            .to_string(),
        "Cluster \"c\": transport_socket.typed_config.common_tls_context.\
         validation_context_sds_secret_config.name: no secret \"nope\" in \
         static_resources.secrets"
    );

    let static_cert = "tls_certificate_sds_secret_configs: [{name: server}]";
    apply_listeners(&mut snapshot, &[listener(&[static_cert])], &[]).unwrap();
    assert!(snapshot.listeners["l"].filter_chains[0].tls.is_some());
    assert!(snapshot.sds_listeners.is_empty());
    assert!(names(&snapshot).is_empty());
    assert_eq!(
        apply_listeners(
            &mut snapshot,
            &[listener(&[
                "tls_certificate_sds_secret_configs: [{name: nope}]"
            ])],
            &[]
        )
        .unwrap_err()
        .to_string(),
        "Listener \"l\": filter_chains[0].transport_socket.typed_config.common_tls_context.\
         tls_certificate_sds_secret_configs[0].name: no secret \"nope\" in \
         static_resources.secrets"
    );
}
