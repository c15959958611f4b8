//! [`IstioConfig::next`] against [`IstioConfig::build`] over a sequence of edits: equal after
//! each, and every resource that did not change kept by pointer.

use std::collections::BTreeMap;

use mesh_common::api::Resource;
use pretty_assertions::assert_eq;

use super::*;
use crate::model::{Objects, test_support::add};

const ROOT: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: front}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /a}}]
    delegate: {name: leaf, namespace: back}
  - route: [{destination: {host: static.front.svc.cluster.local}}]
"#;

const LEAF: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf, namespace: back}
spec:
  http:
  - match: [{uri: {prefix: /a/b}}]
    route: [{destination: {host: reviews.back.svc.cluster.local}}]
"#;

const LEAF_EDITED: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf, namespace: back}
spec:
  http:
  - match: [{uri: {prefix: /a/c}}]
    route: [{destination: {host: details.back.svc.cluster.local}}]
    timeout: 2s
"#;

const OTHER: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: other, namespace: front}
spec:
  hosts: [shop.example.com]
  http:
  - route: [{destination: {host: other.front.svc.cluster.local}}]
"#;

const REVIEWS: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: back}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
"#;

/// An empty host: rejected.
const BROKEN: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: broken, namespace: back}
spec:
  host: ""
  subsets: [{name: v1, labels: {version: v1}}]
"#;

const FIXED: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: broken, namespace: back}
spec:
  host: ratings
  subsets: [{name: v1, labels: {version: v1}}]
"#;

fn key(kind: Kind, namespace: &str, name: &str) -> ResourceKey {
    ResourceKey {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

/// Every accepted resource by key.
fn accepted(config: &IstioConfig) -> BTreeMap<ResourceKey, &Arc<Config>> {
    let all = config.by_kind.values().flatten();
    all.map(|c| (c.resource.key(), c)).collect()
}

fn keys(findings: &[(ResourceKey, Vec<Finding>)]) -> Vec<String> {
    let keys = findings.iter().map(|(k, _)| k);
    keys.map(|k| format!("{:?} {}/{}", k.kind, k.namespace, k.name))
        .collect()
}

/// The rule prefixes the root routes by, once settled.
fn root_prefixes(config: &IstioConfig) -> Vec<String> {
    let root = accepted(config)[&key(Kind::VirtualService, "front", "root")].clone();
    let Resource::VirtualService(vs) = &root.resource else {
        panic!("a VirtualService");
    };
    let matches = vs.spec.http.iter().flat_map(|rule| rule.matches.iter());
    let prefixes = matches.filter_map(|m| m.uri.as_ref()?.prefix.clone());
    prefixes.collect()
}

#[test]
fn next_equals_a_whole_build_and_keeps_what_did_not_change() {
    let mesh = MeshConfig::default();
    let mut objects = Objects::default();
    let delete = |kind, namespace, name| {
        move |objects: &mut Objects| {
            assert!(objects.delete_resource(&key(kind, namespace, name)));
        }
    };
    type Step = Box<dyn Fn(&mut Objects)>;
    let steps: Vec<(&str, Step)> = vec![
        (
            "a root whose delegate is missing, a DestinationRule, a rejected one",
            Box::new(|o| add(o, &format!("{ROOT}---{REVIEWS}---{BROKEN}"))),
        ),
        ("the delegate arrives", Box::new(|o| add(o, LEAF))),
        ("the delegate is edited", Box::new(|o| add(o, LEAF_EDITED))),
        (
            "the rejected one becomes valid",
            Box::new(|o| add(o, FIXED)),
        ),
        (
            "a second claim of the root's host",
            Box::new(|o| add(o, OTHER)),
        ),
        ("valid again becomes rejected", Box::new(|o| add(o, BROKEN))),
        (
            "the root goes",
            Box::new(delete(Kind::VirtualService, "front", "root")),
        ),
        (
            "the delegate goes",
            Box::new(delete(Kind::VirtualService, "back", "leaf")),
        ),
    ];
    let mut last = IstioConfig::build(objects.resources().values(), &mesh);
    let mut checked = Vec::new();
    for (step, edit) in steps {
        let before = objects.resources().clone();
        edit(&mut objects);
        let next = last.next(objects.resources().values(), &mesh);
        let whole = IstioConfig::build(objects.resources().values(), &mesh);
        assert_eq!(next, whole, "{step}");
        // A resource that did not change keeps its check, and, accepted, its `Arc` (a root
        // whose delegate changed is settled anew, and is the one exception).
        let (old, new) = (accepted(&last), accepted(&next));
        for (key, resource) in objects.resources() {
            if before.get(key) != Some(resource) {
                continue;
            }
            let kept = Arc::ptr_eq(&last.checked[key].config, &next.checked[key].config);
            assert!(kept, "{step}: {key:?} checked again");
            if let (Some(old), Some(new)) = (old.get(key), new.get(key))
                && **old == **new
            {
                assert!(Arc::ptr_eq(old, new), "{step}: {key:?} not kept");
            }
        }
        checked.push((
            step,
            keys(next.rejected()),
            keys(next.warnings()),
            next.by_kind
                .get(&Kind::VirtualService)
                .map(|_| ())
                .and_then(|()| {
                    accepted(&next)
                        .contains_key(&key(Kind::VirtualService, "front", "root"))
                        .then(|| root_prefixes(&next))
                }),
        ));
        last = next;
    }
    let dr = |name: &str| format!("DestinationRule back/{name}");
    let vs = |namespace: &str, name: &str| format!("VirtualService {namespace}/{name}");
    let prefixes = |p: &[&str]| Some(p.iter().map(|p| p.to_string()).collect::<Vec<_>>());
    assert_eq!(
        checked,
        [
            (
                "a root whose delegate is missing, a DestinationRule, a rejected one",
                vec![dr("broken")],
                vec![vs("front", "root")],
                prefixes(&[]),
            ),
            (
                "the delegate arrives",
                vec![dr("broken")],
                vec![],
                prefixes(&["/a/b"]),
            ),
            (
                "the delegate is edited",
                vec![dr("broken")],
                vec![],
                prefixes(&["/a/c"]),
            ),
            (
                "the rejected one becomes valid",
                vec![],
                vec![],
                prefixes(&["/a/c"]),
            ),
            (
                "a second claim of the root's host",
                vec![],
                vec![vs("front", "root")],
                prefixes(&["/a/c"]),
            ),
            (
                "valid again becomes rejected",
                vec![dr("broken")],
                vec![vs("front", "root")],
                prefixes(&["/a/c"]),
            ),
            ("the root goes", vec![dr("broken")], vec![], None),
            ("the delegate goes", vec![dr("broken")], vec![], None),
        ]
    );
}
