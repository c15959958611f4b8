//! Tracing on a gateway: its HTTP connection managers trace as the mesh config says, and it is
//! sent the collector's cluster; a collector it cannot reach leaves tracing off, and says so.

use envoy_types::pb::envoy::{
    config::listener::v3::filter::ConfigType,
    extensions::filters::network::http_connection_manager::v3::HttpConnectionManager,
};
use pretty_assertions::assert_eq;
use prost::Message;

use super::*;

const CONFIG: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: otel-collector, namespace: observability}
spec:
  hosts: [otel-collector.observability.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  exportTo: [EXPORT]
  ports: [{number: 4317, name: grpc, protocol: GRPC}]
  endpoints: [{address: 198.18.0.70}]
"#;

const MESH: &str = "
defaultProviders: {tracing: [otel]}
extensionProviders:
- name: otel
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
";

const COLLECTOR: &str = "outbound|4317||otel-collector.observability.svc.cluster.local";

fn translated(export_to: &str) -> (Resources, Vec<String>) {
    let mut objects = Objects::default();
    let yaml = CONFIG.replace("EXPORT", export_to);
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    for document in documents {
        objects.upsert_resource(decode(&document).unwrap().resource);
    }
    let snapshot = Snapshot::build(&objects, &MeshConfig::from_yaml(MESH).unwrap());
    assert_eq!(snapshot.config().rejected(), &[]);
    translate(&snapshot, &ingress())
}

fn manager(resources: &Resources) -> HttpConnectionManager {
    let filter = &resources.listeners[0].filter_chains[0].filters[0];
    let Some(ConfigType::TypedConfig(any)) = &filter.config_type else {
        panic!("no typed config");
    };
    HttpConnectionManager::decode(any.value.as_slice()).unwrap()
}

#[test]
fn a_gateway_traces_and_is_sent_the_collector_s_cluster() {
    let (resources, warnings) = translated("\"*\"");
    assert_eq!(warnings, Vec::<String>::new());
    let clusters: Vec<&str> = resources.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(clusters, [COLLECTOR]);
    let tracing = manager(&resources).tracing.unwrap();
    assert_eq!(
        tracing.spawn_upstream_span,
        Some(envoy_types::pb::google::protobuf::BoolValue { value: true })
    );
    assert_eq!(
        tracing.provider.map(|p| p.name),
        Some("envoy.tracers.opentelemetry".to_string())
    );
}

#[test]
fn a_collector_the_gateway_cannot_see_leaves_tracing_off() {
    let (resources, warnings) = translated("\".\"");
    assert_eq!(
        warnings,
        vec![
            "tracing provider \"otel\": extensionProviders[0]: this proxy has no cluster for \
             port 4317 of otel-collector.observability.svc.cluster.local (the service must be \
             visible to it, its Sidecar's egress hosts must admit it, and its endpoints must be \
             sent by the control plane); tracing is off"
        ]
    );
    assert_eq!(resources.clusters, Vec::new());
    assert_eq!(manager(&resources).tracing, None);
}
