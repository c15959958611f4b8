//! Snapshots built from inline YAML or JSON, as the Kubernetes watches and the config directory
//! would deliver the objects; no cluster, no I/O. Shared by the tests of the model, of the
//! translation and of the server.

use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::api::decode;
use serde_json::{Value, json};

use super::{Objects, Snapshot};
use crate::mesh_config::MeshConfig;

/// Reads a multi-document YAML stream into objects: Kubernetes kinds into k8s-openapi's types,
/// everything else through mesh-common's decoder, as the stores do.
pub(crate) fn objects(yaml: &str) -> Objects {
    let mut objects = Objects::default();
    add(&mut objects, yaml);
    objects
}

/// Adds the objects of `yaml`; each must be new and free of unknown fields. Empty documents
/// (a stream that starts with `---`) are skipped, as the config directory skips them.
pub(crate) fn add(objects: &mut Objects, yaml: &str) {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(yaml).unwrap_or_else(|e| panic!("fixture parses: {e}"));
    for document in documents.into_iter().filter(|d| !d.is_null()) {
        let kind = document["kind"].as_str().unwrap_or_default().to_string();
        let changed = match kind.as_str() {
            "Namespace" => objects.upsert(from_value::<Namespace>(document)),
            "Service" => objects.upsert(from_value::<Service>(document)),
            "EndpointSlice" => objects.upsert(from_value::<EndpointSlice>(document)),
            "Pod" => objects.upsert(from_value::<Pod>(document)),
            _ => {
                let decoded = decode(&document).unwrap_or_else(|e| panic!("{kind} decodes: {e}"));
                assert_eq!(decoded.unknown_fields, vec![], "the fixture has a typo");
                objects.upsert_resource(decoded.resource)
            }
        };
        assert!(changed, "the fixture holds one {kind} twice");
    }
}

fn from_value<T: serde::de::DeserializeOwned>(document: Value) -> T {
    serde_json::from_value(document).unwrap_or_else(|e| panic!("fixture object reads: {e}"))
}

/// The snapshot of the objects of `yaml` under the default mesh config.
pub(crate) fn build(yaml: &str) -> Snapshot {
    Snapshot::build(&objects(yaml), &MeshConfig::default())
}

/// The same, with nothing rejected: for tests whose fixture is meant to be valid.
pub(crate) fn build_valid(yaml: &str) -> Snapshot {
    build_valid_in(yaml, &MeshConfig::default())
}

/// The same, under `mesh`.
pub(crate) fn build_valid_in(yaml: &str, mesh: &MeshConfig) -> Snapshot {
    let snapshot = Snapshot::build(&objects(yaml), mesh);
    assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
    snapshot
}

/// An Istio `networking.istio.io/v1` resource of `kind`.
pub(crate) fn istio(kind: &str, namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// The snapshot of Istio `resources` under `mesh`, each free of unknown fields, none rejected.
pub(crate) fn valid_snapshot(resources: &[Value], mesh: &MeshConfig) -> Snapshot {
    let mut objects = Objects::default();
    for resource in resources {
        let decoded = decode(resource).unwrap_or_else(|e| panic!("fixture decodes: {e}"));
        assert_eq!(decoded.unknown_fields, vec![], "the fixture has a typo");
        objects.upsert_resource(decoded.resource);
    }
    let snapshot = Snapshot::build(&objects, mesh);
    assert_eq!(snapshot.config().rejected(), &[], "the fixture is valid");
    snapshot
}

/// Service `<name>` in `namespace` at `vip`, port 80 (HTTP) to 8080, with one pod per address,
/// all of service account `<name>`.
pub(crate) fn service(name: &str, namespace: &str, vip: &str, pods: &[&str]) -> String {
    let mut yaml = format!(
        "
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  clusterIP: {vip}
  ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-s, namespace: {namespace}, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: http, port: 8080, protocol: TCP}}]
endpoints:
"
    );
    for (i, ip) in pods.iter().enumerate() {
        yaml.push_str(&format!(
            "- addresses: [{ip}]\n  targetRef: {{kind: Pod, namespace: {namespace}, name: {name}-{i}}}\n"
        ));
    }
    for (i, ip) in pods.iter().enumerate() {
        yaml.push_str(&format!(
            "
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}-{i}, namespace: {namespace}, labels: {{app: {name}}}}}
spec: {{serviceAccountName: {name}, containers: [{{name: app, image: app}}]}}
status: {{podIP: {ip}}}
"
        ));
    }
    yaml
}

/// A VirtualService of `web` in `a`, exported to `a` alone: it sets a timeout on web's route.
pub(crate) const PRIVATE_VS: &str = "
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: a}
spec:
  hosts: [web]
  exportTo: [\".\"]
  http:
  - timeout: 3s
    route:
    - destination: {host: web}
";

/// Gateway `edge` of `a`: HTTP on 8080 for every host, for the ingress gateway.
pub(crate) const EDGE_GATEWAY: &str = "
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: a}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ['*']
";
