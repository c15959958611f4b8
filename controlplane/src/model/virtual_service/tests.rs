use mesh_common::api::Kind;
use pretty_assertions::assert_eq;

use super::*;
use crate::model::test_support::build_valid as snapshot;

fn key(namespace: &str, name: &str) -> ResourceKey {
    ResourceKey {
        kind: Kind::VirtualService,
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

fn conflict(index: usize, host: &str, older: &str, older_host: &str) -> Finding {
    Finding::warning(
        FieldPath::parse(&format!("spec.hosts[{index}]")),
        format!(
            "host {host:?} is also routed for the sidecars (mesh) by VirtualService {older} \
             ({older_host:?}), which is older: sidecars use only the oldest VirtualService of a \
             host, so this one's routes for it do not apply to them; merge the two into one \
             VirtualService (gateways merge them, sidecars do not)"
        ),
    )
}

const HOSTS: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a-newer, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  exportTo: ["."]
  hosts: [ratings, reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b-older, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  exportTo: ["."]
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wildcard, namespace: default, creationTimestamp: "2024-01-03T00:00:00Z"}
spec:
  exportTo: ["."]
  hosts: ["*.default.svc.cluster.local"]
  http: [{route: [{destination: {host: details}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge-only, namespace: default, creationTimestamp: "2024-01-04T00:00:00Z"}
spec:
  hosts: [reviews]
  gateways: [edge]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: elsewhere, namespace: other, creationTimestamp: "2024-01-05T00:00:00Z"}
spec:
  hosts: [reviews.default.svc.cluster.local]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]
"#;

#[test]
fn later_virtual_services_of_a_sidecar_host_are_reported() {
    let snapshot = snapshot(HOSTS);
    let reviews = "reviews.default.svc.cluster.local";
    let wildcard = "*.default.svc.cluster.local";
    // The gateway-only one is merged by gateways, and `elsewhere` is seen only where the
    // others are not: neither conflicts. The wildcard overlaps the oldest's exact host.
    assert_eq!(
        snapshot.config().warnings(),
        &[
            (
                key("default", "a-newer"),
                vec![conflict(1, reviews, "default/b-older", reviews)]
            ),
            (
                key("default", "wildcard"),
                vec![conflict(0, wildcard, "default/b-older", reviews)]
            ),
        ]
    );
}

#[test]
fn istio_orders_by_age_then_name_then_namespace() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b, namespace: a}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: z}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]
"#,
    );
    let reviews = "reviews.default.svc.cluster.local";
    assert_eq!(
        snapshot.config().warnings(),
        &[(key("a", "b"), vec![conflict(0, reviews, "z/a", reviews)])]
    );
    let mut order: Vec<&Config> = snapshot
        .config()
        .of_kind(Kind::VirtualService)
        .iter()
        .map(|c| &**c)
        .collect();
    order.sort_by(|x, y| istio_order(x).cmp(&istio_order(y)));
    let names: Vec<String> = order.iter().map(|c| c.resource.key().to_string()).collect();
    assert_eq!(names, ["VirtualService z/a", "VirtualService a/b"]);
}
