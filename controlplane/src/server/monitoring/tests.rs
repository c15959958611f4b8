use std::path::Path;

use envoy_types::pb::envoy::config::core::v3::Node;
use mesh_common::load::{LoadOptions, Loader};

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::{Objects, Snapshot},
    store::{PerFileState, reconcile},
};

const BOOKINFO: &str = include_str!("../../../tests/data/bookinfo.yaml");
const DETAILS: &str = "sidecar~198.18.0.11~details-v1-6fc5.default~default.svc.cluster.local";

/// A Sidecar for the namespace whose ingress forwards to a unix socket, which mesh-proxy cannot
/// do.
const DETAILS_UNIX_INGRESS: &str = r#"
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: details, namespace: default}
spec:
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoint: unix:///var/run/details.sock
"#;

fn monitoring() -> Monitoring {
    monitoring_of(&[BOOKINFO])
}

fn monitoring_of(files: &[&str]) -> Monitoring {
    let mut loader = Loader::new(LoadOptions::default());
    for (index, file) in files.iter().enumerate() {
        loader.add_str(file, Path::new(&format!("{index}.yaml")));
    }
    let mut objects = Objects::default();
    for change in reconcile(&PerFileState::default(), loader.finish()).changes {
        change.apply(&mut objects);
    }
    let snapshot = Arc::new(Snapshot::build(&objects, &MeshConfig::default()));
    let metrics = Arc::new(Metrics::new());
    let (_, snapshots) = watch::channel(snapshot);
    let (_, errors) = watch::channel(Arc::from(Vec::new()));
    Monitoring {
        generator: Arc::new(ModelGenerator::new(snapshots, Arc::clone(&metrics))),
        status: Arc::new(StatusRegistry::new()),
        metrics,
        errors,
        files_parsed: FilesParsed::default(),
        ready: AtomicBool::new(false),
    }
}

fn get(monitoring: &Monitoring, path: &str, query: Option<&str>) -> (StatusCode, String) {
    let response = monitoring.respond(&Method::GET, path, query);
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    (response.status(), body)
}

#[test]
fn ready_once_told() {
    let monitoring = monitoring();
    assert_eq!(
        get(&monitoring, "/ready", None),
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_string())
    );
    monitoring.ready.store(true, Ordering::Release);
    assert_eq!(
        get(&monitoring, "/ready", None),
        (StatusCode::OK, "ready\n".to_string())
    );
}

#[test]
fn version_unknown_paths_and_methods() {
    let monitoring = monitoring();
    assert_eq!(
        get(&monitoring, "/version", None),
        (
            StatusCode::OK,
            format!("mesh-controlplane {}\n", env!("CARGO_PKG_VERSION"))
        )
    );
    assert_eq!(
        get(&monitoring, "/debug/nothing", None),
        (StatusCode::NOT_FOUND, "not found\n".to_string())
    );
    let post = monitoring.respond(&Method::POST, "/ready", None);
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    let metrics = monitoring.respond(&Method::GET, "/metrics", None);
    assert_eq!(
        metrics.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

#[test]
fn config_dump_of_a_proxy_that_asked() {
    let monitoring = monitoring();
    assert_eq!(
        get(&monitoring, "/debug/config_dump", None),
        (
            StatusCode::BAD_REQUEST,
            "name the proxy: /debug/config_dump?proxyID=<node id>\n".to_string()
        )
    );
    let query = format!("proxyID={}", DETAILS.replace('~', "%7E"));
    assert_eq!(
        get(&monitoring, "/debug/config_dump", Some(&query)),
        (
            StatusCode::NOT_FOUND,
            format!("proxy {DETAILS:?} is not connected; connected: []\n")
        )
    );
    let node = Node {
        id: DETAILS.to_string(),
        ..Node::default()
    };
    monitoring.generator.translate(&node).unwrap();
    let (status, body) = get(&monitoring, "/debug/config_dump", Some(&query));
    assert_eq!(status, StatusCode::OK);
    let dump: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(dump["proxy"], DETAILS);
    let listeners: Vec<_> = dump["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        listeners,
        [
            "0.0.0.0_27017",
            "0.0.0.0_9080",
            "virtualInbound",
            "virtualOutbound"
        ]
    );
}

#[test]
fn a_sidecar_config_dump_carries_what_its_translation_left_out() {
    let monitoring = monitoring_of(&[BOOKINFO, DETAILS_UNIX_INGRESS]);
    let node = Node {
        id: DETAILS.to_string(),
        ..Node::default()
    };
    monitoring.generator.translate(&node).unwrap();
    let query = format!("proxyID={}", DETAILS.replace('~', "%7E"));
    let (status, body) = get(&monitoring, "/debug/config_dump", Some(&query));
    assert_eq!(status, StatusCode::OK);
    let dump: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        dump["warnings"],
        serde_json::json!([
            "Sidecar default/details ingress[0] (port 9080): defaultEndpoint \"unix:///var/run/details.sock\" is a unix socket, which mesh-proxy cannot forward to; not served"
        ])
    );
}

#[test]
fn query_parameters_are_decoded() {
    assert_eq!(
        parameter("a=1&proxyID=x%7Ey%2e+z&b", "proxyID").as_deref(),
        Some("x~y. z")
    );
    assert_eq!(parameter("b", "b").as_deref(), Some(""));
    assert_eq!(parameter("a=1", "b"), None);
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}
