//! Services and endpoints from Kubernetes Services, EndpointSlices and Pods.

use pretty_assertions::assert_eq;

use super::{build, endpoint, fixtures::bookinfo, labels, objects, pod_endpoint, workload};
use crate::{
    mesh_config::MeshConfig,
    model::{
        DeclaredBy, Endpoint, ExportTo, Health, Location, Protocol, Resolution, Service,
        ServicePort, Snapshot, WorkloadKind,
    },
};

#[test]
fn bookinfo_services_ports_and_endpoints() {
    let snapshot = build(&bookinfo());
    let hostnames: Vec<&str> = snapshot
        .services()
        .iter()
        .map(|s| s.hostname.as_str())
        .collect();
    assert_eq!(
        hostnames,
        [
            "details.default.svc.cluster.local",
            "productpage.default.svc.cluster.local",
            "ratings.default.svc.cluster.local",
            "reviews.default.svc.cluster.local",
        ]
    );
    let reviews = snapshot
        .service("reviews.default.svc.cluster.local", "default")
        .unwrap();
    let version = |v| [("app", "reviews"), ("version", v)];
    assert_eq!(
        **reviews,
        Service {
            hostname: "reviews.default.svc.cluster.local".to_string(),
            namespace: "default".to_string(),
            declared_by: DeclaredBy::Service("reviews".to_string()),
            addresses: vec!["198.19.0.21".to_string()],
            ports: vec![ServicePort {
                name: "http".to_string(),
                number: 9080,
                protocol: Protocol::Http,
            }],
            location: Location::MeshInternal,
            resolution: Resolution::ClientSideLb,
            export_to: ExportTo::All,
            subject_alt_names: vec![],
            endpoints: vec![
                pod_endpoint(
                    "198.18.0.21",
                    "reviews-v1-7d8f",
                    &version("v1"),
                    "bookinfo-reviews"
                ),
                pod_endpoint(
                    "198.18.0.22",
                    "reviews-v2-7d8f",
                    &version("v2"),
                    "bookinfo-reviews"
                ),
                pod_endpoint(
                    "198.18.0.23",
                    "reviews-v3-7d8f",
                    &version("v3"),
                    "bookinfo-reviews"
                ),
            ],
        }
    );
    let details = snapshot
        .service("details.default.svc.cluster.local", "default")
        .unwrap();
    assert_eq!(
        details.endpoints,
        vec![pod_endpoint(
            "198.18.0.11",
            "details-v1-6fc5",
            &[("app", "details"), ("version", "v1")],
            "bookinfo-details"
        )]
    );
    assert_eq!(
        details.endpoints[0].identity.as_ref().unwrap().to_string(),
        "spiffe://cluster.local/ns/default/sa/bookinfo-details"
    );
}

#[test]
fn the_mesh_config_sets_domain_and_trust_domain() {
    let mesh = MeshConfig {
        trust_domain: "example.org".to_string(),
        cluster_domain: "corp.internal".to_string(),
        ..MeshConfig::default()
    };
    let snapshot = Snapshot::build(&objects(&bookinfo()), &mesh);
    let ratings = snapshot
        .service("ratings.default.svc.corp.internal", "default")
        .unwrap();
    assert_eq!(
        ratings.endpoints[0].identity.as_ref().unwrap().to_string(),
        "spiffe://example.org/ns/default/sa/bookinfo-ratings"
    );
    assert_eq!(snapshot.mesh(), &mesh);
}

const HEALTH: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 198.19.1.1
  ports:
  - {name: http-web, port: 80, targetPort: 8080}
  - {name: api, port: 9090, targetPort: grpc, appProtocol: grpc}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  nodeName: node-2
  containers: [{name: web}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-a
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http-web, port: 8080}
- {name: api, port: 9091}
- {name: metrics, port: 15020}
endpoints:
- addresses: [198.18.1.1]
  conditions: {ready: true, serving: true, terminating: false}
  targetRef: {kind: Pod, namespace: shop, name: web-1}
- addresses: [198.18.1.2]
  conditions: {ready: false, serving: true, terminating: true}
- addresses: [198.18.1.3]
  conditions: {ready: false, serving: false, terminating: true}
- addresses: [198.18.1.4]
  conditions: {ready: false}
- addresses: [198.18.1.5]
  targetRef: {kind: Pod, name: web-2}
  nodeName: node-3
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-b
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http-web, port: 8081}
endpoints:
- addresses: [198.18.1.1]
  conditions: {ready: false}
- addresses: [198.18.1.6]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: other
  namespace: shop
  labels: {kubernetes.io/service-name: other}
addressType: IPv4
ports: [{name: http-web, port: 1}]
endpoints:
- addresses: [198.18.1.9]
"#;

#[test]
fn endpoint_health_ports_and_pods() {
    let snapshot = build(HEALTH);
    let web = snapshot
        .service("web.shop.svc.cluster.local", "shop")
        .unwrap();
    assert_eq!(
        web.ports,
        vec![
            ServicePort {
                name: "http-web".to_string(),
                number: 80,
                protocol: Protocol::Http,
            },
            ServicePort {
                name: "api".to_string(),
                number: 9090,
                protocol: Protocol::Grpc,
            },
        ]
    );
    let bare = |address: &str, health| Endpoint {
        health,
        ..endpoint(address, &[(80, 8080), (9090, 9091)])
    };
    assert_eq!(
        web.endpoints,
        vec![
            // Listed by both slices: the first slice by name wins.
            Endpoint {
                labels: labels(&[("app", "web")]),
                // No serviceAccountName: Kubernetes runs the pod as `default`.
                identity: Some("spiffe://cluster.local/ns/shop/sa/default".parse().unwrap()),
                workload: workload(WorkloadKind::Pod, "shop", "web-1"),
                node_name: Some("node-2".to_string()),
                ..bare("198.18.1.1", Health::Healthy)
            },
            bare("198.18.1.2", Health::Draining),
            bare("198.18.1.3", Health::Unhealthy),
            bare("198.18.1.4", Health::Unhealthy),
            // Its pod has not arrived: no labels or identity yet, but it serves.
            Endpoint {
                workload: workload(WorkloadKind::Pod, "shop", "web-2"),
                node_name: Some("node-3".to_string()),
                ..bare("198.18.1.5", Health::Healthy)
            },
            Endpoint {
                ports: [(80, 8081)].into_iter().collect(),
                ..bare("198.18.1.6", Health::Healthy)
            },
        ]
    );
    // A slice whose Service does not exist makes no service.
    assert_eq!(snapshot.services().len(), 1);
}

const HEADLESS: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: mongodb
  namespace: data
  annotations: {networking.istio.io/exportTo: ". , backend"}
spec:
  clusterIP: None
  clusterIPs: [None]
  ports: [{name: tcp-mongo, port: 27017}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: mongodb-1
  namespace: data
  labels: {kubernetes.io/service-name: mongodb}
addressType: IPv4
ports: [{name: tcp-mongo, port: 27017}]
endpoints:
- addresses: [198.18.2.1]
---
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: data}
spec:
  type: ExternalName
  externalName: db.example.com
  ports: [{port: 5432}]
"#;

#[test]
fn headless_and_external_name_services() {
    let snapshot = build(HEADLESS);
    let mongodb = snapshot
        .service("mongodb.data.svc.cluster.local", "data")
        .unwrap();
    assert_eq!(mongodb.addresses, Vec::<String>::new());
    assert_eq!(mongodb.resolution, Resolution::Passthrough);
    assert_eq!(mongodb.ports[0].protocol, Protocol::Tcp);
    assert_eq!(
        mongodb.export_to,
        ExportTo::Namespaces(["backend".to_string(), "data".to_string()].into())
    );
    assert_eq!(mongodb.endpoints.len(), 1);
    assert_eq!(mongodb.endpoints[0].address, "198.18.2.1");

    let legacy = snapshot
        .service("legacy.data.svc.cluster.local", "data")
        .unwrap();
    assert_eq!(
        **legacy,
        Service {
            hostname: "legacy.data.svc.cluster.local".to_string(),
            namespace: "data".to_string(),
            declared_by: DeclaredBy::Service("legacy".to_string()),
            addresses: vec![],
            ports: vec![ServicePort {
                name: String::new(),
                number: 5432,
                protocol: Protocol::Auto,
            }],
            location: Location::MeshExternal,
            resolution: Resolution::Dns,
            export_to: ExportTo::All,
            subject_alt_names: vec![],
            endpoints: vec![endpoint("db.example.com", &[(5432, 5432)])],
        }
    );
}

#[test]
fn workload_names_follow_the_pods_controller() {
    use k8s_openapi::api::core::v1::Pod;

    use crate::model::kube::workload_name;

    let pod = |owner: Option<(&str, &str)>, hash: Option<&str>| {
        let mut value = serde_json::json!({"metadata": {"name": "p", "labels": {}}});
        if let Some((kind, name)) = owner {
            value["metadata"]["ownerReferences"] = serde_json::json!([
                {"apiVersion": "v1", "kind": "Other", "name": "not-the-controller", "uid": "1"},
                {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "2", "controller": true},
            ]);
        }
        if let Some(hash) = hash {
            value["metadata"]["labels"]["pod-template-hash"] = hash.into();
        }
        serde_json::from_value::<Pod>(value).unwrap()
    };
    let cases = [
        (
            pod(Some(("ReplicaSet", "web-v1-5d9c7b6f4")), Some("5d9c7b6f4")),
            "web-v1",
        ),
        // A ReplicaSet of its own, not a Deployment's.
        (
            pod(Some(("ReplicaSet", "web-v1-5d9c7b6f4")), None),
            "web-v1-5d9c7b6f4",
        ),
        (
            pod(Some(("ReplicaSet", "web-v1")), Some("5d9c7b6f4")),
            "web-v1",
        ),
        (pod(Some(("StatefulSet", "db")), Some("5d9c7b6f4")), "db"),
        (pod(None, Some("5d9c7b6f4")), "web-0"),
    ];
    for (pod, expected) in cases {
        assert_eq!(workload_name(&pod, "web-0"), expected, "{pod:?}");
    }
}
