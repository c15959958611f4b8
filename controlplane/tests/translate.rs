//! Golden tests of translation: bookinfo, a reviews-v1 sidecar or the ingress gateway, and a few
//! Istio configs, to the Envoy resources under `tests/golden/<case>/` (a gateway case keeps its
//! own config there, in `config.yaml`). The files are the spec: review a change
//! to them as a change to what every proxy receives. `MESH_UPDATE_GOLDEN=1` rewrites them.

// Helpers outside `#[test]` functions are test code too: a failed fixture read is a failed test.
#![allow(clippy::unwrap_used)]

use std::{fs, path::PathBuf};

use envoy_types::pb::{envoy::config::core::v3::Node, google::protobuf::Struct};
use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{api::decode, well_known::node_metadata};
use mesh_controlplane::{
    mesh_config::{MeshConfig, OutboundTrafficMode},
    model::{Objects, Snapshot},
    translate::{self, Proxy, Resources, string_value},
};
use prost::Name;
use serde_json::Value;

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads YAML documents into objects as the stores do: Kubernetes kinds into k8s-openapi's
/// types, Istio kinds through mesh-common's decoder.
fn add(objects: &mut Objects, yaml: &str) {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).unwrap();
    for document in documents {
        let kind = document["kind"].as_str().unwrap_or_default().to_string();
        let changed = match kind.as_str() {
            "Namespace" => objects.upsert(serde_json::from_value::<Namespace>(document).unwrap()),
            "Service" => objects.upsert(serde_json::from_value::<Service>(document).unwrap()),
            "EndpointSlice" => {
                objects.upsert(serde_json::from_value::<EndpointSlice>(document).unwrap())
            }
            "Pod" => objects.upsert(serde_json::from_value::<Pod>(document).unwrap()),
            _ => {
                let decoded = decode(&document).unwrap();
                assert_eq!(decoded.unknown_fields, vec![], "the fixture has a typo");
                objects.upsert_resource(decoded.resource)
            }
        };
        assert!(changed, "the fixture holds one {kind} twice");
    }
}

fn snapshot(config: &[&str], mesh: &MeshConfig) -> Snapshot {
    let mut objects = Objects::default();
    add(&mut objects, &data("bookinfo.yaml"));
    for file in config {
        add(&mut objects, &data(file));
    }
    let snapshot = Snapshot::build(&objects, mesh);
    assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
    snapshot
}

/// The sidecar of reviews-v1, as its Envoy introduces itself.
fn reviews_v1() -> Proxy {
    let labels = Struct {
        fields: [("app", "reviews"), ("version", "v1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), string_value(v)))
            .collect(),
    };
    let fields = [
        (node_metadata::NAMESPACE, string_value("default")),
        (
            node_metadata::SERVICE_ACCOUNT,
            string_value("bookinfo-reviews"),
        ),
        (node_metadata::INSTANCE_IPS, string_value("198.18.0.21")),
        (node_metadata::WORKLOAD_NAME, string_value("reviews-v1")),
        (
            node_metadata::LABELS,
            envoy_types::pb::google::protobuf::Value {
                kind: Some(envoy_types::pb::google::protobuf::value::Kind::StructValue(
                    labels,
                )),
            },
        ),
    ];
    let node = Node {
        id: "sidecar~198.18.0.21~reviews-v1-7d8f.default~default.svc.cluster.local".to_string(),
        metadata: Some(Struct {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }),
        ..Node::default()
    };
    Proxy::from_node(&node).unwrap()
}

fn pretty<M: prost::Message + Name>(messages: &[M]) -> String {
    let values: Vec<Value> = messages
        .iter()
        .map(|m| mesh_xds::json::to_json(m).unwrap())
        .collect();
    serde_json::to_string_pretty(&values).unwrap() + "\n"
}

/// Compares each resource list with its golden file, or rewrites the files when
/// `MESH_UPDATE_GOLDEN` is set.
fn check(case: &str, resources: &Resources) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    let files = [
        ("clusters.json", pretty(&resources.clusters)),
        ("endpoints.json", pretty(&resources.endpoints)),
        ("listeners.json", pretty(&resources.listeners)),
        ("routes.json", pretty(&resources.routes)),
    ];
    let update = std::env::var_os("MESH_UPDATE_GOLDEN").is_some();
    for (name, actual) in files {
        let path = dir.join(name);
        if update {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with MESH_UPDATE_GOLDEN=1 to create it",
                path.display()
            )
        });
        pretty_assertions::assert_eq!(
            expected,
            actual,
            "{case}/{name} differs (MESH_UPDATE_GOLDEN=1 rewrites it after review)"
        );
    }
}

fn golden(case: &str, config: &[&str], mesh: &MeshConfig) {
    let resources = translate::sidecar(&snapshot(config, mesh), &reviews_v1());
    assert_eq!(
        translate::sidecar(&snapshot(config, mesh), &reviews_v1()),
        resources,
        "translation is deterministic"
    );
    check(case, &resources);
}

/// As [`golden`], with the case's own `config.yaml` after the files of `config`, under the
/// case's `mesh.yaml` when it has one.
fn golden_with_own(case: &str, config: &[&str]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    let own = fs::read_to_string(dir.join("config.yaml")).unwrap();
    let mesh = match fs::read_to_string(dir.join("mesh.yaml")) {
        Ok(text) => MeshConfig::from_yaml(&text).unwrap(),
        Err(_) => MeshConfig::default(),
    };
    let build = || {
        let mut objects = Objects::default();
        add(&mut objects, &data("bookinfo.yaml"));
        for file in config {
            add(&mut objects, &data(file));
        }
        add(&mut objects, &own);
        let snapshot = Snapshot::build(&objects, &mesh);
        assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
        snapshot
    };
    let resources = translate::sidecar(&build(), &reviews_v1());
    assert_eq!(
        translate::sidecar(&build(), &reviews_v1()),
        resources,
        "translation is deterministic"
    );
    check(case, &resources);
}

#[test]
fn default() {
    golden("default", &[], &MeshConfig::default());
}

#[test]
fn subsets_and_weights() {
    golden(
        "subsets-and-weights",
        &["reviews-subsets.yaml", "subsets-and-weights.yaml"],
        &MeshConfig::default(),
    );
}

#[test]
fn header_match() {
    golden(
        "header-match",
        &["reviews-subsets.yaml", "header-match.yaml"],
        &MeshConfig::default(),
    );
}

#[test]
fn retries_timeouts() {
    golden(
        "retries-timeouts",
        &["retries-timeouts.yaml"],
        &MeshConfig::default(),
    );
}

#[test]
fn connection_pool() {
    golden(
        "connection-pool",
        &["connection-pool.yaml"],
        &MeshConfig::default(),
    );
}

#[test]
fn registry_only() {
    let mut mesh = MeshConfig::default();
    mesh.outbound_traffic_policy.mode = OutboundTrafficMode::RegistryOnly;
    golden("registry-only", &[], &mesh);
}

#[test]
fn sidecar_egress() {
    golden_with_own("sidecar-egress", &[]);
}

#[test]
fn tcp_tls_routes() {
    golden_with_own("tcp-tls-routes", &[]);
}

#[test]
fn http_actions() {
    golden_with_own("http-actions", &["reviews-subsets.yaml"]);
}

#[test]
fn fault_delay() {
    golden_with_own("fault-delay", &[]);
}

#[test]
fn fault_abort() {
    golden_with_own("fault-abort", &[]);
}

#[test]
fn mirror_cors() {
    golden_with_own("mirror-cors", &["reviews-subsets.yaml"]);
}

#[test]
fn circuit_breaking() {
    golden_with_own("circuit-breaking", &[]);
}

#[test]
fn consistent_hash() {
    golden_with_own("consistent-hash", &[]);
}

#[test]
fn vs_sources_delegate() {
    golden_with_own("vs-sources-delegate", &[]);
}

#[test]
fn sidecar_ingress() {
    golden_with_own("sidecar-ingress", &[]);
    let snapshot = snapshot_of_own("sidecar-ingress");
    assert_eq!(
        translate::sidecar_report(&snapshot, &reviews_v1()),
        vec![
            "Sidecar default/reviews ingress[3] (port 9093): defaultEndpoint \
             \"unix:///var/run/reviews.sock\" is a unix socket, which mesh-proxy cannot forward \
             to; not served"
                .to_string()
        ]
    );
}

#[test]
fn sidecar_outbound_policy() {
    golden_with_own("sidecar-outbound-policy", &[]);
    let snapshot = snapshot_of_own("sidecar-outbound-policy");
    assert_eq!(
        translate::sidecar_report(&snapshot, &reviews_v1()),
        Vec::<String>::new()
    );
}

#[test]
fn tracing() {
    golden_with_own("tracing", &[]);
    let snapshot = snapshot_of_own("tracing");
    assert_eq!(
        translate::sidecar_report(&snapshot, &reviews_v1()),
        Vec::<String>::new()
    );
}

#[test]
fn telemetry_tracing() {
    golden_with_own("telemetry-tracing", &[]);
    let snapshot = snapshot_of_own("telemetry-tracing");
    assert_eq!(
        translate::sidecar_report(&snapshot, &reviews_v1()),
        vec![
            "Telemetry default/reviews spec.tracing[0].customTags.pod: environment tags are not \
             supported by mesh-proxy; the tag is left out"
                .to_string()
        ]
    );
}

/// The snapshot of a case's own config and mesh config, with bookinfo.
fn snapshot_of_own(case: &str) -> Snapshot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    let mesh = match fs::read_to_string(dir.join("mesh.yaml")) {
        Ok(text) => MeshConfig::from_yaml(&text).unwrap(),
        Err(_) => MeshConfig::default(),
    };
    let mut objects = Objects::default();
    add(&mut objects, &data("bookinfo.yaml"));
    add(
        &mut objects,
        &fs::read_to_string(dir.join("config.yaml")).unwrap(),
    );
    Snapshot::build(&objects, &mesh)
}

#[test]
fn upstream_tls() {
    golden_with_own("upstream-tls", &[]);
}

#[test]
fn upstream_tls_credential() {
    golden_with_own("upstream-tls-credential", &[]);
}

#[test]
fn retries_backoff() {
    golden_with_own("retries-backoff", &[]);
}

#[test]
fn fault_grpc_abort() {
    golden_with_own("fault-grpc-abort", &[]);
}

#[test]
fn hash_cookie() {
    golden_with_own("hash-cookie", &[]);
}

#[test]
fn idle_timeout_off() {
    golden_with_own("idle-timeout-off", &[]);
}

/// The ingress gateway of `istio-system`, as its Envoy introduces itself.
fn ingress_gateway() -> Proxy {
    let labels = Struct {
        fields: [("istio", "ingressgateway"), ("app", "istio-ingressgateway")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), string_value(v)))
            .collect(),
    };
    let fields = [
        (node_metadata::NAMESPACE, string_value("istio-system")),
        (
            node_metadata::LABELS,
            envoy_types::pb::google::protobuf::Value {
                kind: Some(envoy_types::pb::google::protobuf::value::Kind::StructValue(
                    labels,
                )),
            },
        ),
    ];
    let node = Node {
        id: "router~198.18.0.40~istio-ingressgateway-5c9d.istio-system~istio-system.svc.cluster.local"
            .to_string(),
        metadata: Some(Struct {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }),
        ..Node::default()
    };
    let proxy = Proxy::from_node(&node).unwrap();
    assert_eq!(proxy.kind, translate::ProxyKind::Router);
    proxy
}

/// Translates the ingress gateway's configuration for bookinfo, the files of `config` and the
/// case's own `config.yaml`, compares it with the golden files and returns what was reported.
fn gateway_golden(case: &str, config: &[&str]) -> Vec<String> {
    let mut objects = Objects::default();
    add(&mut objects, &data("bookinfo.yaml"));
    for file in config {
        add(&mut objects, &data(file));
    }
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case)
        .join("config.yaml");
    add(&mut objects, &fs::read_to_string(&own).unwrap());
    let snapshot = Snapshot::build(&objects, &MeshConfig::default());
    assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
    let proxy = ingress_gateway();
    let resources = translate::gateway(&snapshot, &proxy);
    assert_eq!(
        translate::gateway(&snapshot, &proxy),
        resources,
        "translation is deterministic"
    );
    check(case, &resources);
    translate::gateway_report(&snapshot, &proxy)
}

#[test]
fn gateway_bookinfo() {
    assert_eq!(
        gateway_golden("gateway-bookinfo", &[]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_servers() {
    assert_eq!(
        gateway_golden("gateway-servers", &["reviews-subsets.yaml"]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_passthrough() {
    assert_eq!(
        gateway_golden("gateway-passthrough", &[]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_unselected() {
    assert_eq!(
        gateway_golden("gateway-unselected", &[]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_tls_simple() {
    assert_eq!(
        gateway_golden("gateway-tls-simple", &[]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_tls_mutual() {
    assert_eq!(
        gateway_golden("gateway-tls-mutual", &[]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_tls_credential() {
    assert_eq!(
        gateway_golden("gateway-tls-credential", &[]),
        Vec::<String>::new()
    );
}
