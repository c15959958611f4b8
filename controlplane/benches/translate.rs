//! Translation: what the control plane spends per proxy and per change. A mesh of one service
//! against one of 1 000 (10 endpoints each, subsets by version, routes of a VirtualService
//! each): building the model snapshot from the objects, and a sidecar's whole configuration
//! from the snapshot.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::pb::{
    envoy::config::core::v3::Node,
    google::protobuf::{Struct, Value as ProtoValue, value::Kind},
};
use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{api::decode, well_known::node_metadata};
use mesh_controlplane::{
    mesh_config::MeshConfig,
    model::{Objects, Snapshot},
    translate::{self, Proxy, string_value},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Endpoints (pods) per service, half of them `version: v1`, half `v2`.
const ENDPOINTS: usize = 10;

fn kube<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("the bench's objects: {e}"))
}

/// `services` services in `default`, each with its pods, endpoint slice, a DestinationRule
/// with two subsets and a VirtualService splitting between them.
fn mesh(services: usize) -> Objects {
    let mut objects = Objects::default();
    objects.upsert(kube::<Namespace>(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
    ));
    for i in 0..services {
        let name = format!("svc-{i}");
        let ip = |j: usize| format!("10.{}.{}.{}", i / 256 % 256, i % 256, j + 1);
        objects.upsert(kube::<Service>(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "clusterIP": format!("172.{}.{}.{}", 16 + i / 65536, i / 256 % 256, i % 256),
                "ports": [{"name": "http", "port": 9080, "targetPort": 9080}],
                "selector": {"app": name},
            },
        })));
        for j in 0..ENDPOINTS {
            objects.upsert(kube::<Pod>(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": format!("{name}-{j}"), "namespace": "default",
                    "labels": {"app": name, "version": if j % 2 == 0 { "v1" } else { "v2" }},
                },
                "spec": {"serviceAccountName": name, "containers": [{"name": "app"}]},
                "status": {"podIP": ip(j)},
            })));
        }
        let endpoints: Vec<Value> = (0..ENDPOINTS)
            .map(|j| {
                json!({
                    "addresses": [ip(j)],
                    "conditions": {"ready": true},
                    "targetRef": {"kind": "Pod", "namespace": "default",
                                  "name": format!("{name}-{j}")},
                })
            })
            .collect();
        objects.upsert(kube::<EndpointSlice>(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-abcde"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 9080}],
            "endpoints": endpoints,
        })));
        for resource in [
            json!({
                "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"host": name, "subsets": [
                    {"name": "v1", "labels": {"version": "v1"}},
                    {"name": "v2", "labels": {"version": "v2"}},
                ]},
            }),
            json!({
                "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"hosts": [name], "http": [
                    {"match": [{"headers": {"end-user": {"exact": "jason"}}}],
                     "route": [{"destination": {"host": name, "subset": "v2"}}]},
                    {"route": [
                        {"destination": {"host": name, "subset": "v1"}, "weight": 90},
                        {"destination": {"host": name, "subset": "v2"}, "weight": 10},
                    ], "timeout": "3s"},
                ]},
            }),
        ] {
            let decoded = decode(&resource).unwrap_or_else(|e| panic!("the bench's config: {e}"));
            objects.upsert_resource(decoded.resource);
        }
    }
    objects
}

/// The sidecar of the first pod of `svc-0`.
fn proxy() -> Proxy {
    let labels = Struct {
        fields: [("app", "svc-0"), ("version", "v1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), string_value(v)))
            .collect(),
    };
    let metadata = [
        (node_metadata::NAMESPACE, string_value("default")),
        (node_metadata::SERVICE_ACCOUNT, string_value("svc-0")),
        (node_metadata::INSTANCE_IPS, string_value("10.0.0.1")),
        (node_metadata::WORKLOAD_NAME, string_value("svc-0")),
        (
            node_metadata::LABELS,
            ProtoValue {
                kind: Some(Kind::StructValue(labels)),
            },
        ),
    ];
    let node = Node {
        id: "sidecar~10.0.0.1~svc-0-0.default~default.svc.cluster.local".to_owned(),
        metadata: Some(Struct {
            fields: metadata
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }),
        ..Node::default()
    };
    Proxy::from_node(&node).unwrap_or_else(|e| panic!("the bench's node: {e}"))
}

fn translation(c: &mut Criterion) {
    let mesh_config = MeshConfig::default();
    let proxy = proxy();
    for (label, services) in [("1_service", 1), ("1k_services", 1_000)] {
        let objects = mesh(services);
        c.bench_function(&format!("snapshot/build/{label}"), |b| {
            b.iter(|| black_box(Snapshot::build(&objects, &mesh_config)));
        });
        let snapshot = Snapshot::build(&objects, &mesh_config);
        assert_eq!(
            snapshot.config().rejected(),
            &[],
            "the bench's config is valid"
        );
        let resources = translate::sidecar(&snapshot, &proxy);
        // Each service gets a cluster per subset and one without; the fixed ones come on top.
        assert!(
            resources.clusters.len() >= 3 * services,
            "{}",
            resources.clusters.len()
        );
        c.bench_function(&format!("translate/sidecar/{label}"), |b| {
            b.iter(|| black_box(translate::sidecar(&snapshot, &proxy)));
        });
    }
}

criterion_group!(benches, translation);
criterion_main!(benches);
