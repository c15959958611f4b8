//! Objects shared by several tests.

/// Bookinfo in `default`, as `kubectl apply` and the controllers leave it: one Service per
/// app on port 9080 named `http`, one EndpointSlice each, and the Pods they point at (reviews
/// in three versions), each with its app's service account.
pub(super) const BOOKINFO: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {mesh-injection: enabled}
---
apiVersion: v1
kind: Service
metadata:
  name: details
  namespace: default
  labels: {app: details, service: details}
spec:
  clusterIP: 198.19.0.11
  clusterIPs: [198.19.0.11]
  ports: [{name: http, port: 9080, targetPort: 9080, protocol: TCP}]
  selector: {app: details}
---
apiVersion: v1
kind: Pod
metadata:
  name: details-v1-6fc5
  namespace: default
  labels: {app: details, version: v1}
spec:
  serviceAccountName: bookinfo-details
  nodeName: node-1
  containers: [{name: details, image: "mesh-rs/bookinfo:latest"}]
status:
  podIP: 198.18.0.11
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: details-x1b2c
  namespace: default
  labels: {kubernetes.io/service-name: details}
addressType: IPv4
ports: [{name: http, port: 9080, protocol: TCP}]
endpoints:
- addresses: [198.18.0.11]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  targetRef: {kind: Pod, namespace: default, name: details-v1-6fc5}
---
apiVersion: v1
kind: Service
metadata:
  name: productpage
  namespace: default
  labels: {app: productpage, service: productpage}
spec:
  clusterIP: 198.19.0.41
  clusterIPs: [198.19.0.41]
  ports: [{name: http, port: 9080, targetPort: 9080, protocol: TCP}]
  selector: {app: productpage}
---
apiVersion: v1
kind: Pod
metadata:
  name: productpage-v1-58b4
  namespace: default
  labels: {app: productpage, version: v1}
spec:
  serviceAccountName: bookinfo-productpage
  nodeName: node-1
  containers: [{name: productpage, image: "mesh-rs/bookinfo:latest"}]
status:
  podIP: 198.18.0.41
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: productpage-x1b2c
  namespace: default
  labels: {kubernetes.io/service-name: productpage}
addressType: IPv4
ports: [{name: http, port: 9080, protocol: TCP}]
endpoints:
- addresses: [198.18.0.41]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  targetRef: {kind: Pod, namespace: default, name: productpage-v1-58b4}
---
apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: default
  labels: {app: ratings, service: ratings}
spec:
  clusterIP: 198.19.0.31
  clusterIPs: [198.19.0.31]
  ports: [{name: http, port: 9080, targetPort: 9080, protocol: TCP}]
  selector: {app: ratings}
---
apiVersion: v1
kind: Pod
metadata:
  name: ratings-v1-b6d8
  namespace: default
  labels: {app: ratings, version: v1}
spec:
  serviceAccountName: bookinfo-ratings
  nodeName: node-1
  containers: [{name: ratings, image: "mesh-rs/bookinfo:latest"}]
status:
  podIP: 198.18.0.31
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ratings-x1b2c
  namespace: default
  labels: {kubernetes.io/service-name: ratings}
addressType: IPv4
ports: [{name: http, port: 9080, protocol: TCP}]
endpoints:
- addresses: [198.18.0.31]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  targetRef: {kind: Pod, namespace: default, name: ratings-v1-b6d8}
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
  labels: {app: reviews, service: reviews}
spec:
  clusterIP: 198.19.0.21
  clusterIPs: [198.19.0.21]
  ports: [{name: http, port: 9080, targetPort: 9080, protocol: TCP}]
  selector: {app: reviews}
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1-7d8f
  namespace: default
  labels: {app: reviews, version: v1}
spec:
  serviceAccountName: bookinfo-reviews
  nodeName: node-1
  containers: [{name: reviews, image: "mesh-rs/bookinfo:latest"}]
status:
  podIP: 198.18.0.21
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v2-7d8f
  namespace: default
  labels: {app: reviews, version: v2}
spec:
  serviceAccountName: bookinfo-reviews
  nodeName: node-1
  containers: [{name: reviews, image: "mesh-rs/bookinfo:latest"}]
status:
  podIP: 198.18.0.22
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v3-7d8f
  namespace: default
  labels: {app: reviews, version: v3}
spec:
  serviceAccountName: bookinfo-reviews
  nodeName: node-1
  containers: [{name: reviews, image: "mesh-rs/bookinfo:latest"}]
status:
  podIP: 198.18.0.23
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-x1b2c
  namespace: default
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
ports: [{name: http, port: 9080, protocol: TCP}]
endpoints:
- addresses: [198.18.0.21]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  targetRef: {kind: Pod, namespace: default, name: reviews-v1-7d8f}
- addresses: [198.18.0.22]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  targetRef: {kind: Pod, namespace: default, name: reviews-v2-7d8f}
- addresses: [198.18.0.23]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  targetRef: {kind: Pod, namespace: default, name: reviews-v3-7d8f}
"#;
