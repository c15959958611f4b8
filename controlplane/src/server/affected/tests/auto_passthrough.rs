//! A Gateway with an `AUTO_PASSTHROUGH` server gives its gateways a cluster of every service
//! they see: a change to any service, its endpoints or its DestinationRule reaches them, where
//! it reaches gateways that only route by VirtualServices when they route to it.

use pretty_assertions::assert_eq;

use super::*;

const EAST_WEST: &str = "
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: cross-network, namespace: a}
spec:
  selector: {istio: eastwestgateway}
  servers:
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: ['*.local']
    tls: {mode: AUTO_PASSTHROUGH}
";

#[test]
fn an_endpoint_change_reaches_the_gateways_with_sni_dnat_clusters() {
    let scope = scope_between(
        &format!("{}{EAST_WEST}", two_namespaces(false)),
        &format!("{}{EAST_WEST}", two_namespaces(true)),
    );
    assert_eq!(
        scope,
        Scope::Some(Affected {
            all_types: Proxies {
                addresses: set(&[WEB_2]),
                ..Proxies::default()
            },
            // web is exported everywhere: every gateway may have its SNI-DNAT clusters.
            endpoints: Proxies {
                sidecars: Within::All,
                routers: Within::All,
                ..Proxies::default()
            },
        })
    );
    assert_eq!(scope.reach(&router("b")), Reach::Endpoints);
    // A gateway that only routes reaches no service it does not route to.
    let scope = scope_between(
        &format!("{}{GATEWAY}", two_namespaces(false)),
        &format!("{}{GATEWAY}", two_namespaces(true)),
    );
    assert_eq!(scope.reach(&router("b")), Reach::None);
}

#[test]
fn a_changed_service_or_rule_reaches_the_gateways_with_sni_dnat_clusters() {
    let web = service("web", "a", "198.19.0.10", &[WEB_1]);
    let moved = web.replace("port: 80,", "port: 81,");
    assert_ne!(moved, web);
    let scope = scope_between(&format!("{web}{EAST_WEST}"), &format!("{moved}{EAST_WEST}"));
    assert_eq!(scope.reach(&router("b")), Reach::All);

    // A subset is a cluster of its own: a rule exported to b reaches b's gateways.
    let base = format!("{}{EAST_WEST}", two_namespaces(false));
    let rule = "
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: b}
spec:
  host: api
  exportTo: [\".\"]
  subsets: [{name: v1, labels: {version: v1}}]
";
    let scope = scope_between(&base, &format!("{base}{rule}"));
    assert_eq!(
        scope,
        all_types(Proxies {
            sidecars: Within::Namespaces(set(&["b"])),
            routers: Within::Namespaces(set(&["b"])),
            ..Proxies::default()
        })
    );
    assert_eq!(scope.reach(&router("b")), Reach::All);
    assert_eq!(scope.reach(&router("a")), Reach::None);
}
