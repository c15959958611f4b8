//! Services from ServiceEntries and the WorkloadEntries they select.

use pretty_assertions::assert_eq;

use super::{build, endpoint, labels, workload};
use crate::model::{
    DeclaredBy, Endpoint, ExportTo, Health, Locality, Location, Protocol, Resolution, Service,
    ServicePort, WorkloadKind,
};

const DNS: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api, namespace: default}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - {number: 443, name: https, protocol: HTTPS}
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  endpoints:
  - {address: us.api.example.com, locality: us-east1/us-east1-b, weight: 3}
  - {address: eu.api.example.com, ports: {https: 8443}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  resolution: DNS
  exportTo: ["."]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: passthrough, namespace: default}
spec:
  hosts: ["*.wikipedia.org", billing]
  location: MESH_INTERNAL
  addresses: [198.19.9.0/24]
  ports: [{number: 443, name: tls, protocol: TLS}]
  subjectAltNames: [spiffe://cluster.local/ns/default/sa/billing]
"#;

#[test]
fn dns_service_entries_with_and_without_endpoints() {
    let snapshot = build(DNS);
    let api = snapshot.service("api.example.com", "default").unwrap();
    assert_eq!(
        **api,
        Service {
            hostname: "api.example.com".to_string(),
            namespace: "default".to_string(),
            declared_by: DeclaredBy::ServiceEntry("external-api".to_string()),
            addresses: vec![],
            ports: vec![
                ServicePort {
                    name: "https".to_string(),
                    number: 443,
                    protocol: Protocol::Https,
                },
                ServicePort {
                    name: "http".to_string(),
                    number: 80,
                    protocol: Protocol::Http,
                },
            ],
            location: Location::MeshExternal,
            resolution: Resolution::Dns,
            export_to: ExportTo::All,
            subject_alt_names: vec![],
            endpoints: vec![
                // An endpoint's named port wins over targetPort, which wins over the number.
                endpoint("eu.api.example.com", &[(80, 8080), (443, 8443)]),
                Endpoint {
                    locality: Locality {
                        region: "us-east1".to_string(),
                        zone: "us-east1-b".to_string(),
                        subzone: String::new(),
                    },
                    weight: 3,
                    ..endpoint("us.api.example.com", &[(80, 8080), (443, 443)])
                },
            ],
        }
    );

    // With no endpoints, the proxy resolves the host itself.
    let httpbin = snapshot.service("httpbin.org", "default").unwrap();
    assert_eq!(
        httpbin.endpoints,
        vec![endpoint("httpbin.org", &[(80, 80)])]
    );
    assert_eq!(
        httpbin.export_to,
        ExportTo::Namespaces(["default".to_string()].into())
    );
    assert_eq!(httpbin.location, Location::MeshExternal);
}

#[test]
fn each_host_of_an_entry_is_a_service() {
    let snapshot = build(DNS);
    let declared: Vec<(&str, &str)> = snapshot
        .services()
        .iter()
        .map(|s| (s.hostname.as_str(), s.declared_by.name()))
        .collect();
    assert_eq!(
        declared,
        [
            ("*.wikipedia.org", "passthrough"),
            ("api.example.com", "external-api"),
            // A short host is a name in the entry's namespace.
            ("billing.default.svc.cluster.local", "passthrough"),
            ("httpbin.org", "httpbin"),
        ]
    );
    for host in ["*.wikipedia.org", "billing.default.svc.cluster.local"] {
        let service = snapshot.service(host, "default").unwrap();
        assert_eq!(service.resolution, Resolution::Passthrough, "{host}");
        assert_eq!(service.location, Location::MeshInternal, "{host}");
        assert_eq!(service.addresses, vec!["198.19.9.0/24"], "{host}");
        assert_eq!(service.endpoints, vec![], "{host}");
        assert_eq!(
            service.subject_alt_names,
            vec!["spiffe://cluster.local/ns/default/sa/billing"]
        );
    }
}

const SELECTOR: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings-vm, namespace: vms}
spec:
  hosts: [ratings.vms.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  addresses: [198.19.5.1]
  ports: [{number: 9080, name: http, protocol: HTTP, targetPort: 9090}]
  workloadSelector:
    labels: {app: ratings-vm}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-vm-1, namespace: vms}
spec:
  address: 198.18.5.1
  labels: {app: ratings-vm, version: v1}
  serviceAccount: ratings-vm
  locality: us-east1/us-east1-a/rack-1
  weight: 2
  ports: {http: 9091}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-vm-2, namespace: vms}
spec:
  address: 198.18.5.2
  labels: {app: ratings-vm, version: v2}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: other-vm, namespace: vms}
spec:
  address: 198.18.5.3
  labels: {app: other}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-vm-elsewhere, namespace: default}
spec:
  address: 198.18.5.4
  labels: {app: ratings-vm}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-vm-broken, namespace: vms}
spec:
  address: 198.18.5.5
  labels: {app: ratings-vm}
  weight: 0
"#;

#[test]
fn a_workload_selector_picks_valid_workload_entries_of_its_namespace() {
    let snapshot = build(SELECTOR);
    let ratings = snapshot.service("ratings.vms.internal", "vms").unwrap();
    assert_eq!(ratings.resolution, Resolution::ClientSideLb);
    assert_eq!(ratings.location, Location::MeshInternal);
    assert_eq!(ratings.addresses, vec!["198.19.5.1"]);
    let entry = |name| workload(WorkloadKind::WorkloadEntry, "vms", name);
    assert_eq!(
        ratings.endpoints,
        vec![
            Endpoint {
                labels: labels(&[("app", "ratings-vm"), ("version", "v1")]),
                identity: Some(
                    "spiffe://cluster.local/ns/vms/sa/ratings-vm"
                        .parse()
                        .unwrap()
                ),
                locality: Locality {
                    region: "us-east1".to_string(),
                    zone: "us-east1-a".to_string(),
                    subzone: "rack-1".to_string(),
                },
                weight: 2,
                workload: entry("ratings-vm-1"),
                ..endpoint("198.18.5.1", &[(9080, 9091)])
            },
            Endpoint {
                labels: labels(&[("app", "ratings-vm"), ("version", "v2")]),
                workload: entry("ratings-vm-2"),
                ..endpoint("198.18.5.2", &[(9080, 9090)])
            },
        ]
    );
    let rejected: Vec<String> = snapshot
        .config()
        .rejected()
        .iter()
        .map(|(key, _)| key.to_string())
        .collect();
    assert_eq!(rejected, ["WorkloadEntry vms/ratings-vm-broken"]);
}

/// Pods of `vms`, one per state a selected pod can be in; the YAML is in flow style, a pod's
/// state on its `status` line.
const SELECTED_PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: ratings-ready, namespace: vms, labels: {app: ratings-vm}}
spec: {serviceAccountName: ratings, nodeName: node-4, containers: [{name: ratings}]}
status: {phase: Running, podIP: 198.18.5.10, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: ratings-deleted
  namespace: vms
  labels: {app: ratings-vm}
  deletionTimestamp: "2024-01-01T00:00:00Z"
spec: {containers: [{name: ratings}]}
status: {phase: Running, podIP: 198.18.5.11, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-starting, namespace: vms, labels: {app: ratings-vm}}
spec: {containers: [{name: ratings}]}
status: {phase: Running, podIP: 198.18.5.12, conditions: [{type: Ready, status: "False"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-pending, namespace: vms, labels: {app: ratings-vm}}
spec: {containers: [{name: ratings}]}
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-done, namespace: vms, labels: {app: ratings-vm}}
spec: {containers: [{name: ratings}]}
status: {phase: Succeeded, podIP: 198.18.5.13}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-other, namespace: vms, labels: {app: other}}
spec: {containers: [{name: ratings}]}
status: {phase: Running, podIP: 198.18.5.14}
"#;

#[test]
fn a_workload_selector_picks_running_pods_too() {
    let snapshot = build(&format!("{SELECTOR}\n---\n{SELECTED_PODS}"));
    let ratings = snapshot.service("ratings.vms.internal", "vms").unwrap();
    let pods: Vec<&Endpoint> = ratings
        .endpoints
        .iter()
        .filter(|e| e.workload.as_ref().unwrap().kind == WorkloadKind::Pod)
        .collect();
    let pod = |name, address, account: &str, health| Endpoint {
        labels: labels(&[("app", "ratings-vm")]),
        identity: Some(
            format!("spiffe://cluster.local/ns/vms/sa/{account}")
                .parse()
                .unwrap(),
        ),
        health,
        workload: workload(WorkloadKind::Pod, "vms", name),
        ..endpoint(address, &[(9080, 9090)])
    };
    assert_eq!(
        pods,
        [
            &Endpoint {
                node_name: Some("node-4".to_string()),
                ..pod("ratings-ready", "198.18.5.10", "ratings", Health::Healthy)
            },
            &pod(
                "ratings-deleted",
                "198.18.5.11",
                "default",
                Health::Draining
            ),
            &pod(
                "ratings-starting",
                "198.18.5.12",
                "default",
                Health::Unhealthy
            ),
        ]
    );
    assert_eq!(
        ratings.endpoints.len(),
        5,
        "two WorkloadEntries, three pods"
    );
}
