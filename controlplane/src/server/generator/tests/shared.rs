//! Load assignments are made once and shared: by the groups of sidecars that see a service
//! alike, and across snapshots for the services a change did not touch.

use super::{
    kept::{change, outbound_counts, sidecar_node},
    *,
};
use crate::server::fixtures::{API_1, Files, WEB_1, two_namespaces};

const API: &str = "outbound|80||api.b.svc.cluster.local";
const WEB: &str = "outbound|80||web.a.svc.cluster.local";

/// The load assignments of `translated`'s outbound side, by cluster name.
fn assignments(translated: &Translated) -> Vec<(&str, &Arc<assignments::Assignment>)> {
    translated.parts()[0]
        .assignments
        .iter()
        .map(|a| (a.source().cluster_name.as_str(), a))
        .collect()
}

fn same(a: &Arc<assignments::Assignment>, b: &Arc<assignments::Assignment>) -> bool {
    Arc::ptr_eq(a, b) && Arc::ptr_eq(a.encoded(), b.encoded())
}

#[test]
fn an_endpoint_change_makes_the_changed_assignment_once_and_keeps_the_others() {
    let mut files = Files::new(MeshConfig::default());
    let (snapshots, generator) = generator_from(files.load(&two_namespaces(false)));
    // Two groups: the sidecars of `a` and of `b` share nothing but what they see alike.
    let (in_a, in_b) = (
        sidecar_node("a", "web-0", WEB_1),
        sidecar_node("b", "api-0", API_1),
    );
    let (a, b) = (
        generator.translate(&in_a).unwrap(),
        generator.translate(&in_b).unwrap(),
    );
    assert!(!a.shares_part(&b, 0), "two groups");
    let (a_before, b_before) = (assignments(&a), assignments(&b));
    assert_eq!(
        a_before.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        [API, WEB]
    );
    // Each assignment was made once, for both groups.
    for ((_, x), (_, y)) in a_before.iter().zip(&b_before) {
        assert!(same(x, y));
    }
    assert_eq!(generator.assignments.len(), 2);

    change(&mut files, &snapshots, &generator, &two_namespaces(true));
    let (a_after, b_after) = (
        generator.translate(&in_a).unwrap(),
        generator.translate(&in_b).unwrap(),
    );
    let (a_now, b_now) = (assignments(&a_after), assignments(&b_after));
    // api's did not change: the very assignment and encoding both groups had.
    assert_eq!((a_now[0].0, b_now[0].0), (API, API));
    assert!(same(a_now[0].1, a_before[0].1));
    assert!(same(b_now[0].1, b_before[0].1));
    // web's was made again, once, for both groups; the old one is forgotten.
    assert_eq!((a_now[1].0, b_now[1].0), (WEB, WEB));
    assert!(same(a_now[1].1, b_now[1].1));
    assert!(!Arc::ptr_eq(a_now[1].1, a_before[1].1));
    assert_eq!(a_now[1].1.resource().endpoints[0].lb_endpoints.len(), 2);
    assert_eq!(generator.assignments.len(), 2);
    // The encodings served are those of the shared assignments.
    let served = b_after.select(ResourceType::ClusterLoadAssignment, &Subscription::Wildcard);
    assert_eq!(served.len(), 2);
    assert!(Arc::ptr_eq(&served[0], a_now[0].1.encoded()));
    assert!(Arc::ptr_eq(&served[1], a_now[1].1.encoded()));
    // And what each sidecar gets is its translation afresh.
    let snapshot = generator.snapshot();
    for (node, translated) in [(&in_a, &a_after), (&in_b, &b_after)] {
        let proxy = Proxy::from_node(node).unwrap();
        assert_eq!(
            translated.resources(),
            translate::sidecar(&snapshot, &proxy)
        );
    }
}

/// A VirtualService in `a` that routes web's own sidecars to api differently: sidecars of `a`
/// fall in two groups by their `app` label, which differ in their routes alone.
const WEB_ROUTES_BY_SOURCE: &str = "
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api-from-web, namespace: a}
spec:
  hosts: [api.b.svc.cluster.local]
  http:
  - match: [{sourceLabels: {app: web}}]
    timeout: 3s
    route:
    - destination: {host: api.b.svc.cluster.local}
  - route:
    - destination: {host: api.b.svc.cluster.local}
";

/// A sidecar of `a` at `ip` labelled `app: <app>`.
fn labelled_in_a(pod: &str, ip: &str, app: &str) -> Node {
    with_labels(sidecar_node("a", pod, ip), &[("app", app)])
}

#[test]
fn groups_share_the_types_they_have_equal_and_refresh_their_endpoints_once() {
    let mut files = Files::new(MeshConfig::default());
    let yaml =
        |two_web_pods: bool| format!("{}{WEB_ROUTES_BY_SOURCE}", two_namespaces(two_web_pods));
    let (snapshots, generator) = generator_from(files.load(&yaml(false)));
    let (web, other) = (
        labelled_in_a("web-0", WEB_1, "web"),
        labelled_in_a("other-0", "198.18.0.12", "other"),
    );
    let (first, second) = (
        generator.translate(&web).unwrap(),
        generator.translate(&other).unwrap(),
    );
    let (one, two) = (&first.parts()[0], &second.parts()[0]);
    assert!(!first.shares_part(&second, 0), "two groups");
    for kind in [
        ResourceType::Cluster,
        ResourceType::ClusterLoadAssignment,
        ResourceType::Listener,
    ] {
        assert!(one.shares_list(two, kind), "{kind:?}");
    }
    assert!(!one.shares_list(two, ResourceType::RouteConfiguration));
    assert_ne!(first.resources().routes, second.resources().routes);
    let fresh = |node: &Node| {
        let proxy = Proxy::from_node(node).unwrap();
        translate::sidecar(&generator.snapshot(), &proxy)
    };
    assert_eq!(first.resources(), fresh(&web));
    assert_eq!(second.resources(), fresh(&other));

    change(&mut files, &snapshots, &generator, &yaml(true));
    let (first_after, second_after) = (
        generator.translate(&web).unwrap(),
        generator.translate(&other).unwrap(),
    );
    let (one_after, two_after) = (&first_after.parts()[0], &second_after.parts()[0]);
    // Endpoints alone changed: both groups have the one new list of load assignments, and
    // kept everything else.
    assert_eq!(outbound_counts(&generator), (2, 2));
    assert!(one_after.shares_list(two_after, ResourceType::ClusterLoadAssignment));
    assert!(!one_after.shares_list(one, ResourceType::ClusterLoadAssignment));
    for kind in [
        ResourceType::Cluster,
        ResourceType::Listener,
        ResourceType::RouteConfiguration,
    ] {
        assert!(one_after.shares_list(one, kind), "{kind:?}");
        assert!(two_after.shares_list(two, kind), "{kind:?}");
    }
    assert_eq!(second_after.resources(), fresh(&other));
    assert_eq!(
        first_after.resources().endpoints,
        fresh(&web).endpoints,
        "the new pod is in web's load assignment"
    );
}
