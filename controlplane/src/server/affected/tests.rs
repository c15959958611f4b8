use std::collections::BTreeSet;

use pretty_assertions::assert_eq;

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::test_support::EDGE_GATEWAY as GATEWAY,
    server::fixtures::{
        API_1, PRIVATE_VS, WEB_1, WEB_2, service, snapshot, snapshot_with, two_namespaces,
    },
    xds::{ProxyClass, Reach, Target},
};

mod auto_passthrough;
mod egress;

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn scope_between(before: &str, after: &str) -> Scope {
    let (before, after) = (snapshot(before), snapshot(after));
    scope(&before, &after, &Diff::between(&before, &after))
}

fn sidecar(namespace: &str, ip: &str) -> Target {
    Target {
        class: Some(ProxyClass::Sidecar),
        namespace: Some(namespace.to_string()),
        ips: vec![ip.to_string()],
    }
}

/// The scope of a change that regenerates every type for `proxies`, and nothing else.
fn all_types(proxies: Proxies) -> Scope {
    Scope::Some(Affected {
        all_types: proxies,
        endpoints: Proxies::default(),
    })
}

fn router(namespace: &str) -> Target {
    Target {
        class: Some(ProxyClass::Router),
        namespace: Some(namespace.to_string()),
        ips: vec!["198.18.0.90".to_string()],
    }
}

const GATEWAY_VS: &str = "
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: a}
spec:
  hosts: ['*']
  gateways: [edge]
  http:
  - route:
    - destination: {host: web}
";

#[test]
fn a_private_virtual_service_reaches_the_sidecars_of_its_namespace() {
    let base = two_namespaces(false);
    let scope = scope_between(&base, &format!("{base}{PRIVATE_VS}"));
    assert_eq!(
        scope,
        all_types(Proxies {
            sidecars: Within::Namespaces(set(&["a"])),
            ..Proxies::default()
        })
    );
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::None);
    assert_eq!(scope.reach(&router("a")), Reach::None);
}

#[test]
fn a_gateway_reaches_the_gateways_only() {
    let base = format!("{}{GATEWAY_VS}", two_namespaces(false));
    let scope = scope_between(&base, &format!("{base}{GATEWAY}"));
    assert_eq!(
        scope,
        all_types(Proxies {
            routers: Within::All,
            ..Proxies::default()
        })
    );
    assert_eq!(scope.reach(&router("b")), Reach::All);
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::None);
}

#[test]
fn a_virtual_service_bound_to_a_gateway_and_the_mesh_reaches_both() {
    let base = format!("{}{GATEWAY}", two_namespaces(false));
    // Istio refuses `*` for the mesh: the sidecars' VirtualService names its host.
    let both = GATEWAY_VS
        .replace("gateways: [edge]", "gateways: [edge, mesh]")
        .replace("hosts: ['*']", "hosts: [web]");
    assert_ne!(both, GATEWAY_VS);
    let scope = scope_between(&base, &format!("{base}{both}"));
    assert_eq!(scope.reach(&router("b")), Reach::All);
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::All);
    // Bound to the gateway alone, it leaves the sidecars be.
    let scope = scope_between(&base, &format!("{base}{GATEWAY_VS}"));
    assert_eq!(scope.reach(&router("b")), Reach::All);
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::None);
}

#[test]
fn an_endpoint_change_reaches_load_assignments_and_the_new_workload() {
    let scope = scope_between(&two_namespaces(false), &two_namespaces(true));
    assert_eq!(
        scope,
        Scope::Some(Affected {
            // The new pod's own proxy serves web: its inbound side changes.
            all_types: Proxies {
                addresses: set(&[WEB_2]),
                ..Proxies::default()
            },
            // web is exported everywhere; no gateway routes to it.
            endpoints: Proxies {
                sidecars: Within::All,
                ..Proxies::default()
            },
        })
    );
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::Endpoints);
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::Endpoints);
    assert_eq!(scope.reach(&sidecar("a", WEB_2)), Reach::All);
    assert_eq!(scope.reach(&router("a")), Reach::None);
}

#[test]
fn an_endpoint_change_reaches_the_gateways_that_route_to_the_service() {
    let base = format!("{GATEWAY}{GATEWAY_VS}");
    let scope = scope_between(
        &format!("{}{base}", two_namespaces(false)),
        &format!("{}{base}", two_namespaces(true)),
    );
    assert_eq!(scope.reach(&router("b")), Reach::Endpoints);
    // api's endpoints would not: no gateway routes to it.
    let api = |pods: &[&str]| service("api", "b", "198.19.0.20", pods);
    let scope = scope_between(
        &format!("{}{base}", api(&[API_1])),
        &format!("{}{base}", api(&[API_1, "198.18.0.21"])),
    );
    assert_eq!(scope.reach(&router("b")), Reach::None);
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::Endpoints);
}

#[test]
fn a_changed_service_reaches_every_type_of_those_who_see_it_and_its_workloads() {
    let web = service("web", "a", "198.19.0.10", &[WEB_1]);
    let api = service("api", "b", "198.19.0.20", &[API_1]);
    let private_api = api.replace(
        "metadata: {name: api, namespace: b}",
        "metadata: {name: api, namespace: b, annotations: {networking.istio.io/exportTo: \".\"}}",
    );
    assert_ne!(api, private_api);
    let scope = scope_between(&format!("{web}{api}"), &format!("{web}{private_api}"));
    // Before, everyone saw it; and its workload serves it.
    assert_eq!(
        scope,
        all_types(Proxies {
            sidecars: Within::All,
            addresses: set(&[API_1]),
            ..Proxies::default()
        })
    );
    // Once private, changing its port reaches b and its workload only.
    let moved = private_api.replace("port: 80,", "port: 81,");
    assert_ne!(moved, private_api);
    let scope = scope_between(&format!("{web}{private_api}"), &format!("{web}{moved}"));
    assert_eq!(scope.reach(&sidecar("b", "198.18.0.99")), Reach::All);
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::None);
    assert_eq!(scope.reach(&sidecar("c", API_1)), Reach::All);
}

#[test]
fn a_sidecar_resource_reaches_its_namespace_and_from_the_root_every_one() {
    let base = two_namespaces(false);
    let sidecar_in = |namespace: &str| {
        format!(
            "
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: default, namespace: {namespace}}}
spec:
  egress:
  - hosts: [\"./*\"]
"
        )
    };
    let scope = scope_between(&base, &format!("{base}{}", sidecar_in("a")));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::None);
    let scope = scope_between(&base, &format!("{base}{}", sidecar_in("istio-system")));
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::All);
    assert_eq!(scope.reach(&router("b")), Reach::None);
}

#[test]
fn a_destination_rule_reaches_where_it_is_exported() {
    let base = two_namespaces(false);
    let rule = "
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: b}
spec:
  host: api
  exportTo: [\".\"]
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
";
    let scope = scope_between(&base, &format!("{base}{rule}"));
    assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::All);
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::None);
    assert_eq!(scope.reach(&router("b")), Reach::None);
}

#[test]
fn a_mesh_config_change_reaches_everyone_and_no_change_no_one() {
    let base = two_namespaces(false);
    let before = snapshot(&base);
    let mesh = MeshConfig {
        root_namespace: "mesh-root".to_string(),
        ..MeshConfig::default()
    };
    let after = snapshot_with(&base, &mesh);
    assert_eq!(
        scope(&before, &after, &Diff::between(&before, &after)),
        Scope::All
    );
    let again = snapshot(&base);
    let diff = Diff::between(&before, &again);
    assert!(diff.is_empty());
    assert!(scope(&before, &again, &diff).is_empty());
}

#[test]
fn the_tracing_collector_s_service_reaches_every_gateway() {
    let mesh = MeshConfig::from_yaml(
        "defaultProviders: {tracing: [otel]}\nextensionProviders: [{name: otel, \
         opentelemetry: {service: b/api.b.svc.cluster.local, port: 80}}]",
    )
    .unwrap();
    let with_api = format!("{GATEWAY}{}", service("api", "b", "198.19.0.20", &[API_1]));
    let (before, after) = (
        snapshot_with(GATEWAY, &mesh),
        snapshot_with(&with_api, &mesh),
    );
    let traced = scope(&before, &after, &Diff::between(&before, &after));
    assert_eq!(traced.reach(&router("a")), Reach::All);
    // Untraced, no gateway reads it.
    let (before, after) = (snapshot(GATEWAY), snapshot(&with_api));
    let untraced = scope(&before, &after, &Diff::between(&before, &after));
    assert_eq!(untraced.reach(&router("a")), Reach::None);
}
