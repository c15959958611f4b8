//! Golden tests of translation: bookinfo, a reviews-v1 sidecar or the ingress gateway, and a few
//! Istio configs, to the Envoy resources under `tests/golden/<case>/` (a gateway case keeps its
//! own config there, in `config.yaml`). The files are the spec: review a change
//! to them as a change to what every proxy receives. `MESH_UPDATE_GOLDEN=1` rewrites them.

// Helpers outside `#[test]` functions are test code too: a failed fixture read is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::{fs, path::PathBuf};

use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{api::decode, well_known::node_metadata};
use mesh_controlplane::{
    mesh_config::{MeshConfig, OutboundTrafficMode},
    model::{Objects, Snapshot},
    translate::{self, Proxy, Resources},
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

/// The snapshot a case translates: bookinfo, then the files of `config`, then `own` (the
/// case's own config, if it has one), under `mesh`.
fn snapshot(config: &[&str], own: Option<&str>, mesh: &MeshConfig) -> Snapshot {
    let mut objects = Objects::default();
    add(&mut objects, &data("bookinfo.yaml"));
    for file in config {
        add(&mut objects, &data(file));
    }
    if let Some(own) = own {
        add(&mut objects, own);
    }
    let snapshot = Snapshot::build(&objects, mesh);
    assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
    snapshot
}

/// Where a case keeps its golden files, and its own config.
fn case_dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case)
}

/// The case's own `config.yaml`.
fn own_config(case: &str) -> String {
    fs::read_to_string(case_dir(case).join("config.yaml")).unwrap()
}

/// The case's own `mesh.yaml`, or the default mesh config when it has none.
fn own_mesh(case: &str) -> MeshConfig {
    match fs::read_to_string(case_dir(case).join("mesh.yaml")) {
        Ok(text) => MeshConfig::from_yaml(&text).unwrap(),
        Err(_) => MeshConfig::default(),
    }
}

/// A proxy as its Envoy introduces itself.
fn proxy(id: &str, metadata: &[(&str, &str)], labels: &[(&str, &str)]) -> Proxy {
    Proxy::from_node(&support::node(id, metadata, labels)).unwrap()
}

/// The sidecar of reviews-v1.
fn reviews_v1() -> Proxy {
    proxy(
        "sidecar~198.18.0.21~reviews-v1-7d8f.default~default.svc.cluster.local",
        &[
            (node_metadata::NAMESPACE, "default"),
            (node_metadata::SERVICE_ACCOUNT, "bookinfo-reviews"),
            (node_metadata::INSTANCE_IPS, "198.18.0.21"),
            (node_metadata::WORKLOAD_NAME, "reviews-v1"),
        ],
        &[("app", "reviews"), ("version", "v1")],
    )
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
    let dir = case_dir(case);
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

/// Translates a case for `proxy` from two snapshots that `build` makes alike (translation is
/// deterministic), compares the resources with the golden files and returns the snapshot.
fn translated(
    case: &str,
    build: impl Fn() -> Snapshot,
    proxy: &Proxy,
    translate: fn(&Snapshot, &Proxy) -> Resources,
) -> Snapshot {
    let snapshot = build();
    let resources = translate(&snapshot, proxy);
    assert_eq!(
        translate(&build(), proxy),
        resources,
        "translation is deterministic"
    );
    check(case, &resources);
    snapshot
}

/// The golden case of the reviews-v1 sidecar for bookinfo and the files of `config`.
fn golden(case: &str, config: &[&str]) {
    golden_under(case, config, &MeshConfig::default());
}

/// As [`golden`], under `mesh`.
fn golden_under(case: &str, config: &[&str], mesh: &MeshConfig) {
    let build = || snapshot(config, None, mesh);
    translated(case, build, &reviews_v1(), translate::sidecar);
}

/// As [`golden`], with the case's own `config.yaml` after the files of `config`, under the
/// case's `mesh.yaml` when it has one; returns the snapshot, for what the case reports.
fn golden_with_own(case: &str, config: &[&str]) -> Snapshot {
    let (own, mesh) = (own_config(case), own_mesh(case));
    let build = || snapshot(config, Some(&own), &mesh);
    translated(case, build, &reviews_v1(), translate::sidecar)
}

/// No report: the case configures nothing that is not served.
const SERVED: &[&str] = &[];

/// As [`golden_with_own`], with no shared files; returns what the case reports.
fn reported(case: &str) -> Vec<String> {
    let snapshot = golden_with_own(case, &[]);
    translate::sidecar_report(&snapshot, &reviews_v1())
}

/// Declares one `#[test]` per line, named as its case: each is one call, and a table shows the
/// cases better than a function each (a function cannot declare a test).
macro_rules! tests {
    ($($name:ident: $check:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $check;
            }
        )*
    };
}

tests! {
    default: golden("default", &[]);
    subsets_and_weights:
        golden("subsets-and-weights", &["reviews-subsets.yaml", "subsets-and-weights.yaml"]);
    header_match: golden("header-match", &["reviews-subsets.yaml", "header-match.yaml"]);
    retries_timeouts: golden("retries-timeouts", &["retries-timeouts.yaml"]);
    connection_pool: golden("connection-pool", &["connection-pool.yaml"]);
    sidecar_egress: golden_with_own("sidecar-egress", &[]);
    tcp_tls_routes: golden_with_own("tcp-tls-routes", &[]);
    http_actions: golden_with_own("http-actions", &["reviews-subsets.yaml"]);
    fault_delay: golden_with_own("fault-delay", &[]);
    fault_abort: golden_with_own("fault-abort", &[]);
    mirror_cors: golden_with_own("mirror-cors", &["reviews-subsets.yaml"]);
    circuit_breaking: golden_with_own("circuit-breaking", &[]);
    consistent_hash: golden_with_own("consistent-hash", &[]);
    vs_sources_delegate: golden_with_own("vs-sources-delegate", &[]);
    sidecar_outbound_policy: assert_eq!(reported("sidecar-outbound-policy"), SERVED);
    tracing: assert_eq!(reported("tracing"), SERVED);
    upstream_tls: golden_with_own("upstream-tls", &[]);
    upstream_tls_credential: golden_with_own("upstream-tls-credential", &[]);
    retries_backoff: golden_with_own("retries-backoff", &[]);
    fault_grpc_abort: golden_with_own("fault-grpc-abort", &[]);
    hash_cookie: golden_with_own("hash-cookie", &[]);
    idle_timeout_off: golden_with_own("idle-timeout-off", &[]);
    gateway_bookinfo: assert_eq!(gateway_golden("gateway-bookinfo", &[]), SERVED);
    gateway_servers:
        assert_eq!(gateway_golden("gateway-servers", &["reviews-subsets.yaml"]), SERVED);
    gateway_passthrough: assert_eq!(gateway_golden("gateway-passthrough", &[]), SERVED);
    gateway_unselected: assert_eq!(gateway_golden("gateway-unselected", &[]), SERVED);
    gateway_tls_simple: assert_eq!(gateway_golden("gateway-tls-simple", &[]), SERVED);
    gateway_tls_mutual: assert_eq!(gateway_golden("gateway-tls-mutual", &[]), SERVED);
    gateway_tls_credential: assert_eq!(gateway_golden("gateway-tls-credential", &[]), SERVED);
}

#[test]
fn registry_only() {
    let mut mesh = MeshConfig::default();
    mesh.outbound_traffic_policy.mode = OutboundTrafficMode::RegistryOnly;
    golden_under("registry-only", &[], &mesh);
}

#[test]
fn sidecar_ingress() {
    assert_eq!(
        reported("sidecar-ingress"),
        vec![
            "Sidecar default/reviews ingress[3] (port 9093): defaultEndpoint \
             \"unix:///var/run/reviews.sock\" is a unix socket, which mesh-proxy cannot forward \
             to; not served"
                .to_string()
        ]
    );
}

#[test]
fn telemetry_tracing() {
    assert_eq!(
        reported("telemetry-tracing"),
        vec![
            "Telemetry default/reviews spec.tracing[0].customTags.pod: environment tags are not \
             supported by mesh-proxy; the tag is left out"
                .to_string()
        ]
    );
}

/// The ingress gateway of `istio-system`.
fn ingress_gateway() -> Proxy {
    let proxy = proxy(
        "router~198.18.0.40~istio-ingressgateway-5c9d.istio-system~istio-system.svc.cluster.local",
        &[(node_metadata::NAMESPACE, "istio-system")],
        &[("istio", "ingressgateway"), ("app", "istio-ingressgateway")],
    );
    assert_eq!(proxy.kind, translate::ProxyKind::Router);
    proxy
}

/// Translates the ingress gateway's configuration for bookinfo, the files of `config` and the
/// case's own `config.yaml`, compares it with the golden files and returns what was reported.
fn gateway_golden(case: &str, config: &[&str]) -> Vec<String> {
    let own = own_config(case);
    let build = || snapshot(config, Some(&own), &MeshConfig::default());
    let proxy = ingress_gateway();
    let snapshot = translated(case, build, &proxy, translate::gateway);
    translate::gateway_report(&snapshot, &proxy)
}

#[test]
fn gateway_auto_passthrough() {
    assert_eq!(gateway_golden("gateway-auto-passthrough", &[]), SERVED);
}
