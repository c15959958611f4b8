//! Loading the bootstrap file: the sidecar fixture a stock Envoy also reads, and refusals that
//! name the file and the field.

use std::{path::Path, time::Duration};

use envoy_types::pb::google::protobuf::value::Kind;
use mesh_common::well_known::node_metadata;

use mesh_proxy::bootstrap::{AdsConfig, Bootstrap, BootstrapError};

const SIDECAR: &str = include_str!("../../xds/tests/data/bootstrap-sidecar.yaml");

fn parse(text: &str) -> Result<Bootstrap, BootstrapError> {
    Bootstrap::parse(text, Path::new("/etc/mesh/bootstrap.yaml"))
}

fn error(text: &str) -> String {
    parse(text).expect_err("must be refused").to_string()
}

/// The fixture with `from` replaced by `to` (which must occur exactly once).
fn sidecar_with(from: &str, to: &str) -> String {
    assert_eq!(SIDECAR.matches(from).count(), 1, "{from:?}");
    SIDECAR.replace(from, to)
}

#[test]
fn sidecar_fixture() {
    let bootstrap = parse(SIDECAR).unwrap();
    assert_eq!(
        bootstrap.node.id,
        "sidecar~198.18.0.5~reviews-v1-abc.default~default.svc.cluster.local"
    );
    assert_eq!(bootstrap.node.cluster, "reviews.default");
    let metadata = &bootstrap.node.metadata.as_ref().unwrap().fields;
    assert_eq!(
        metadata[node_metadata::NAMESPACE].kind,
        Some(Kind::StringValue("default".to_owned()))
    );
    assert_eq!(bootstrap.admin, Some("127.0.0.1:15000".parse().unwrap()));
    assert_eq!(
        bootstrap.ads,
        Some(AdsConfig {
            cluster: "xds-grpc".to_owned(),
            targets: vec![("127.0.0.1".to_owned(), 15010)],
            connect_timeout: Duration::from_secs(1),
            delta: false,
        })
    );
    let snapshot = &bootstrap.static_snapshot;
    assert_eq!(
        snapshot.listeners["virtualInbound"].address,
        "0.0.0.0:15006".parse().unwrap()
    );
    let mut clusters: Vec<&String> = snapshot.clusters.keys().collect();
    clusters.sort();
    assert_eq!(clusters, ["inbound|9080||", "xds-grpc"]);
    assert_eq!(
        snapshot.endpoints["inbound|9080||"].endpoints()[0].address,
        "127.0.0.1:9080".parse().unwrap()
    );
    assert_eq!(
        snapshot.clusters["xds-grpc"].protocol,
        mesh_proxy::config::UpstreamProtocol::Http2
    );
}

#[test]
fn delta_and_json() {
    let delta = parse(&sidecar_with("api_type: GRPC", "api_type: DELTA_GRPC")).unwrap();
    assert!(delta.ads.unwrap().delta);

    let json = r#"{"node": {"id": "a", "cluster": "b"}, "admin": {"address": {"socket_address": {"address": "::1", "port_value": 15000}}}}"#;
    let bootstrap = Bootstrap::parse(json, Path::new("b.json")).unwrap();
    assert_eq!(bootstrap.admin, Some("[::1]:15000".parse().unwrap()));
    assert_eq!(bootstrap.ads, None);
    assert!(bootstrap.static_snapshot.listeners.is_empty());
}

#[test]
fn refusals_name_file_and_field() {
    let cases = [
        (
            sidecar_with("    - name: virtualInbound", "    - nmae: virtualInbound"),
            "bootstrap /etc/mesh/bootstrap.yaml: envoy.config.bootstrap.v3.Bootstrap at \
             static_resources.listeners[0]: unknown field \"nmae\"",
        ),
        (
            sidecar_with(
                "port_value: 15006",
                "port_value: 15006\n      transparent: true",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: static_resources.listeners[0]: Listener \
             \"virtualInbound\": transparent: not supported by mesh-proxy",
        ),
        (
            sidecar_with(
                "connect_timeout: 10s",
                "connect_timeout: 10s\n      lb_policy: LOAD_BALANCING_POLICY_CONFIG",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: static_resources.clusters[1]: Cluster \
             \"inbound|9080||\": lb_policy: not supported by mesh-proxy",
        ),
        (
            sidecar_with(
                "cluster_name: xds-grpc\n  cds",
                "cluster_name: istiod\n  cds",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: \
             dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: \"istiod\" \
             is not a static cluster",
        ),
        (
            sidecar_with("api_type: GRPC", "api_type: REST"),
            "bootstrap /etc/mesh/bootstrap.yaml: dynamic_resources.ads_config.api_type: must be \
             GRPC or DELTA_GRPC",
        ),
        (
            sidecar_with(
                "lds_config:\n    ads: {}",
                "lds_config:\n    path_config_source: { path: /etc/lds.yaml }",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: dynamic_resources.lds_config: must be `ads: {}`",
        ),
        (
            sidecar_with(
                "      type: STATIC\n      connect_timeout: 1s",
                "      type: ORIGINAL_DST\n      lb_policy: CLUSTER_PROVIDED\n      connect_timeout: 1s",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: \
             dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: cluster \
             \"xds-grpc\" must be STATIC, STRICT_DNS or LOGICAL_DNS",
        ),
        (
            sidecar_with(
                "  id: sidecar~198.18.0.5~reviews-v1-abc.default~default.svc.cluster.local\n",
                "",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: node.id: is required when \
             dynamic_resources.ads_config is set",
        ),
        (
            sidecar_with(
                "address: 127.0.0.1\n      port_value: 15000",
                "address: localhost\n      port_value: 15000",
            ),
            "bootstrap /etc/mesh/bootstrap.yaml: admin.address.socket_address.address: \
             \"localhost\" is not an IP address",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&text), expected);
    }
}

#[test]
fn load_names_a_missing_file() {
    let error = Bootstrap::load(Path::new("/nonexistent/bootstrap.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("cannot read bootstrap /nonexistent/bootstrap.yaml: "),
        "{error}"
    );
}

#[tokio::test]
async fn dns_ads_cluster_and_static_resolution() {
    let text = sidecar_with(
        "      type: STATIC\n      connect_timeout: 1s",
        "      type: STRICT_DNS\n      connect_timeout: 1s",
    );
    let mut bootstrap = parse(&text).unwrap();
    assert_eq!(
        bootstrap.ads.as_ref().unwrap().targets,
        [("127.0.0.1".to_owned(), 15010)]
    );
    assert!(!bootstrap.static_snapshot.endpoints.contains_key("xds-grpc"));
    bootstrap.resolve_dns().await;
    assert_eq!(
        bootstrap.static_snapshot.endpoints["xds-grpc"].endpoints()[0].address,
        "127.0.0.1:15010".parse().unwrap()
    );
}
