//! Objects shared by several tests.

/// Each pod of an app: its version and IP.
type Pods = &'static [(&'static str, &'static str)];

/// Bookinfo's apps: name, cluster IP, pod-template hash, and pods.
const APPS: [(&str, &str, &str, Pods); 4] = [
    ("details", "198.19.0.11", "6fc5", &[("v1", "198.18.0.11")]),
    (
        "productpage",
        "198.19.0.41",
        "58b4",
        &[("v1", "198.18.0.41")],
    ),
    ("ratings", "198.19.0.31", "b6d8", &[("v1", "198.18.0.31")]),
    (
        "reviews",
        "198.19.0.21",
        "7d8f",
        &[
            ("v1", "198.18.0.21"),
            ("v2", "198.18.0.22"),
            ("v3", "198.18.0.23"),
        ],
    ),
];

/// Bookinfo in `default`, as `kubectl apply` and the controllers leave it: one Service per
/// app on port 9080 named `http`, one EndpointSlice each, and the Pods they point at (reviews
/// in three versions), each with its app's service account.
pub(super) fn bookinfo() -> String {
    let mut documents = vec![
        "
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {mesh-injection: enabled}
"
        .to_string(),
    ];
    for (app, vip, hash, pods) in APPS {
        documents.push(format!(
            "apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: default
  labels: {{app: {app}, service: {app}}}
spec:
  clusterIP: {vip}
  clusterIPs: [{vip}]
  ports: [{{name: http, port: 9080, targetPort: 9080, protocol: TCP}}]
  selector: {{app: {app}}}
"
        ));
        let mut endpoints = String::new();
        for (version, ip) in pods {
            documents.push(format!(
                "apiVersion: v1
kind: Pod
metadata:
  name: {app}-{version}-{hash}
  namespace: default
  labels: {{app: {app}, version: {version}}}
spec:
  serviceAccountName: bookinfo-{app}
  nodeName: node-1
  containers: [{{name: {app}, image: \"mesh-rs/bookinfo:latest\"}}]
status:
  podIP: {ip}
"
            ));
            endpoints.push_str(&format!(
                "- addresses: [{ip}]
  conditions: {{ready: true, serving: true, terminating: false}}
  nodeName: node-1
  zone: zone-a
  targetRef: {{kind: Pod, namespace: default, name: {app}-{version}-{hash}}}
"
            ));
        }
        documents.push(format!(
            "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {app}-x1b2c
  namespace: default
  labels: {{kubernetes.io/service-name: {app}}}
addressType: IPv4
ports: [{{name: http, port: 9080, protocol: TCP}}]
endpoints:
{endpoints}"
        ));
    }
    documents.join("---\n")
}
