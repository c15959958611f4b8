//! `Sidecar` egress hosts narrow the sidecars a change reaches; where they cannot tell, every
//! sidecar the change is exported to is reached.

use pretty_assertions::assert_eq;

use super::*;

/// A Sidecar of `namespace` whose egress hosts are `hosts`, selecting `selector` if given.
fn sidecar_resource(namespace: &str, hosts: &str, selector: Option<&str>) -> String {
    let selector = selector
        .map(|labels| format!("\n  workloadSelector: {{labels: {labels}}}"))
        .unwrap_or_default();
    format!(
        "
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: egress, namespace: {namespace}}}
spec:{selector}
  egress:
  - hosts: {hosts}
"
    )
}

/// a's sidecars see their own namespace and the root namespace alone.
fn a_sees_itself() -> String {
    sidecar_resource("a", "[\"./*\", \"istio-system/*\"]", None)
}

/// A VirtualService of api in b, exported everywhere.
const API_VS: &str = "
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: b}
spec:
  hosts: [api]
  exportTo: [\"*\"]
  http:
  - timeout: 3s
    route:
    - destination: {host: api}
";

/// A DestinationRule of api in b, exported everywhere.
const API_RULE: &str = "
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: b}
spec:
  host: api
  exportTo: [\"*\"]
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
";

fn api(pods: &[&str], port: u16) -> String {
    service("api", "b", "198.19.0.20", pods).replace("port: 80,", &format!("port: {port},"))
}

fn web() -> String {
    service("web", "a", "198.19.0.10", &[WEB_1])
}

#[test]
fn a_change_in_b_leaves_out_the_sidecars_whose_egress_hosts_do_not_admit_it() {
    for (with_sidecar, a_reached) in [(true, Reach::None), (false, Reach::All)] {
        let sidecars = if with_sidecar {
            a_sees_itself()
        } else {
            String::new()
        };
        let base = format!("{}{sidecars}", two_namespaces(false));
        for added in [API_VS, API_RULE] {
            let scope = scope_between(&base, &format!("{base}{added}"));
            assert_eq!(scope.reach(&sidecar("a", WEB_1)), a_reached, "{added}");
            assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::All, "{added}");
            // A namespace without a Sidecar sees everything.
            assert_eq!(scope.reach(&sidecar("c", "198.18.0.30")), Reach::All);
        }
        if with_sidecar {
            let scope = scope_between(&base, &format!("{base}{API_VS}"));
            assert_eq!(
                scope,
                all_types(Proxies {
                    sidecars: Within::AllBut(set(&["a"])),
                    ..Proxies::default()
                })
            );
        }
        // The service itself: its definition, then its endpoints.
        let scope = scope_between(
            &format!("{}{}{sidecars}", web(), api(&[API_1], 80)),
            &format!("{}{}{sidecars}", web(), api(&[API_1], 81)),
        );
        assert_eq!(scope.reach(&sidecar("a", WEB_1)), a_reached);
        assert_eq!(scope.reach(&sidecar("b", "198.18.0.21")), Reach::All);
        let scope = scope_between(
            &format!("{}{}{sidecars}", web(), api(&[API_1], 80)),
            &format!("{}{}{sidecars}", web(), api(&[API_1, "198.18.0.21"], 80)),
        );
        let a_endpoints = if with_sidecar {
            Reach::None
        } else {
            Reach::Endpoints
        };
        assert_eq!(scope.reach(&sidecar("a", WEB_1)), a_endpoints);
        assert_eq!(scope.reach(&sidecar("b", API_1)), Reach::Endpoints);
    }
}

#[test]
fn a_change_the_egress_hosts_admit_reaches_the_sidecar() {
    let sidecars = sidecar_resource("a", "[\"./*\", \"b/api.b.svc.cluster.local\"]", None);
    let base = format!("{}{sidecars}", two_namespaces(false));
    let scope = scope_between(&base, &format!("{base}{API_VS}"));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
    // Admitted on a port of its own: whatever the port, it may be admitted.
    let on_a_port = sidecar_resource("a", "[\"./*\"]", None).replace(
        "  - hosts:",
        "  - port: {number: 9999, protocol: HTTP, name: http}\n    hosts: [\"b/*\"]\n  - hosts:",
    );
    let base = format!("{}{on_a_port}", two_namespaces(false));
    let scope = scope_between(&base, &format!("{base}{API_VS}"));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
}

#[test]
fn a_workload_selected_sidecar_or_a_route_to_the_service_widens() {
    // Which of a's proxies the selecting Sidecar picks is not known here.
    let selected = sidecar_resource("a", "[\"./*\"]", Some("{app: web}"));
    let base = format!("{}{selected}", two_namespaces(false));
    let scope = scope_between(&base, &format!("{base}{API_VS}"));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
    // A delegate names no host: it is not narrowed.
    let base = format!("{}{}", two_namespaces(false), a_sees_itself());
    let delegate = API_VS.replace("  hosts: [api]\n", "");
    assert_ne!(delegate, API_VS);
    let scope = scope_between(&base, &format!("{base}{delegate}"));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
    // A VirtualService a's sidecars use routes to api: its ports are read for the route.
    let to_api = "
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: a}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: api.b.svc.cluster.local}
";
    let base = |port| {
        format!(
            "{}{}{}{to_api}",
            web(),
            api(&[API_1], port),
            a_sees_itself()
        )
    };
    let scope = scope_between(&base(80), &base(81));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
    let scope = scope_between(&base(80), &format!("{}{API_RULE}", base(80)));
    assert_eq!(scope.reach(&sidecar("a", WEB_1)), Reach::All);
}

#[test]
fn the_root_namespace_sidecar_narrows_the_namespaces_without_their_own() {
    let root = sidecar_resource("istio-system", "[\"./*\"]", None);
    let own = sidecar_resource("b", "[\"./*\"]", None);
    let base = format!("{}{root}{own}", two_namespaces(false));
    let scope = scope_between(&base, &format!("{base}{API_VS}"));
    assert_eq!(
        scope,
        all_types(Proxies {
            sidecars: Within::Namespaces(set(&["b"])),
            ..Proxies::default()
        })
    );
    assert_eq!(scope.reach(&sidecar("c", "198.18.0.30")), Reach::None);
}
