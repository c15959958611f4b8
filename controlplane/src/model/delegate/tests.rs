use mesh_common::{
    api::{HttpRoute, Kind},
    path::FieldPath,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::model::{Snapshot, test_support::build as snapshot};

/// The rules a VirtualService of the snapshot routes by.
fn http(snapshot: &Snapshot, namespace: &str, name: &str) -> Vec<HttpRoute> {
    snapshot
        .config()
        .of_kind(Kind::VirtualService)
        .iter()
        .find_map(|c| match &c.resource {
            Resource::VirtualService(vs)
                if c.resource.namespace() == namespace && c.resource.name() == name =>
            {
                Some(vs.spec.http.clone())
            }
            _ => None,
        })
        .unwrap()
}

fn rule(value: serde_json::Value) -> HttpRoute {
    serde_json::from_value(value).unwrap()
}

fn key(namespace: &str, name: &str) -> ResourceKey {
    ResourceKey {
        kind: Kind::VirtualService,
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

const MERGE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: front}
spec:
  hosts: [shop.example.com]
  http:
  - name: a
    match: [{name: pa, uri: {prefix: /a}, headers: {x-team: {exact: books}}}]
    delegate: {name: leaf, namespace: back}
    timeout: 5s
  - match: [{uri: {prefix: /static}}]
    route: [{destination: {host: static.front.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf, namespace: back}
spec:
  http:
  - name: b
    match: [{name: pb, uri: {prefix: /a/b}}]
    route: [{destination: {host: reviews.back.svc.cluster.local}}]
    timeout: 1s
  - name: c
    match: [{uri: {prefix: /c}}]
    route: [{destination: {host: details.back.svc.cluster.local}}]
  - route: [{destination: {host: ratings.back.svc.cluster.local}}]
"#;

#[test]
fn delegate_rules_are_merged_under_the_root_rule() {
    let snapshot = snapshot(MERGE);
    assert_eq!(snapshot.config().rejected(), &[]);
    assert_eq!(
        http(&snapshot, "front", "root"),
        vec![
            // Root /a + delegate /a/b: the delegate's narrower prefix, the root's header, both
            // names, and the delegate's own timeout.
            rule(json!({
                "name": "a-b",
                "match": [{"name": "pa-pb", "uri": {"prefix": "/a/b"},
                           "headers": {"x-team": {"exact": "books"}}}],
                "route": [{"destination": {"host": "reviews.back.svc.cluster.local"}}],
                "timeout": "1s",
            })),
            // No match: the root's, and the root's timeout.
            rule(json!({
                "name": "a",
                "match": [{"name": "pa", "uri": {"prefix": "/a"},
                           "headers": {"x-team": {"exact": "books"}}}],
                "route": [{"destination": {"host": "ratings.back.svc.cluster.local"}}],
                "timeout": "5s",
            })),
            rule(json!({
                "match": [{"uri": {"prefix": "/static"}}],
                "route": [{"destination": {"host": "static.front.svc.cluster.local"}}],
            })),
        ]
    );
    // /c is outside /a: left out, and its author is told.
    assert_eq!(
        snapshot.config().warnings(),
        &[(
            key("back", "leaf"),
            vec![Finding::warning(
                FieldPath::parse("spec.http[1].match"),
                "not within the match of VirtualService front/root spec.http[0], which \
                 delegates here: a delegate's match must narrow its root's; the rule is left \
                 out of front/root"
            )]
        )]
    );
    // The delegate itself is kept as written.
    assert_eq!(http(&snapshot, "back", "leaf").len(), 3);
}

const UNFOLLOWED: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: front}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /missing}}]
    delegate: {name: missing}
  - match: [{uri: {prefix: /hosted}}]
    delegate: {name: hosted}
  - match: [{uri: {prefix: /private}}]
    delegate: {name: private, namespace: back}
  - match: [{uri: {prefix: /broken}}]
    delegate: {name: broken}
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: web.front.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hosted, namespace: front}
spec:
  hosts: [other.example.com]
  http:
  - route: [{destination: {host: other.front.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: back}
spec:
  exportTo: ["."]
  http:
  - route: [{destination: {host: private.back.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: front}
spec:
  gateways: [edge]
  http:
  - route: [{destination: {host: broken.front.svc.cluster.local}}]
"#;

#[test]
fn a_delegation_that_cannot_be_followed_is_left_out_and_reported() {
    let snapshot = snapshot(UNFOLLOWED);
    let rejected: Vec<&ResourceKey> = snapshot
        .config()
        .rejected()
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(rejected, vec![&key("front", "broken")]);
    assert_eq!(
        http(&snapshot, "front", "root"),
        vec![rule(json!({
            "match": [{"uri": {"prefix": "/"}}],
            "route": [{"destination": {"host": "web.front.svc.cluster.local"}}],
        }))]
    );
    // One warning per rule of the root that delegates, in order.
    let why = [
        "the delegate VirtualService front/missing does not exist",
        "VirtualService front/hosted has hosts, so it is not a delegate: delegate to a \
         VirtualService without hosts",
        "the delegate VirtualService back/private is not exported to namespace front: add it to \
         the delegate's exportTo",
        "the delegate VirtualService front/broken was rejected (see its errors)",
    ];
    let tail = "; until then the rule is left out and its requests go on to the rules after it";
    let expected: Vec<Finding> = why
        .iter()
        .enumerate()
        .map(|(i, why)| {
            let at = FieldPath::parse(&format!("spec.http[{i}].delegate"));
            Finding::warning(at, format!("{why}{tail}"))
        })
        .collect();
    assert_eq!(
        snapshot.config().warnings(),
        &[(key("front", "root"), expected)]
    );
}

fn request(value: serde_json::Value) -> HttpMatchRequest {
    serde_json::from_value(value).unwrap()
}

#[test]
fn conflicts_follow_istio() {
    // (root match, delegate match, whether they conflict), in YAML as users write them.
    let cases = [
        // Narrower strings fit; wider, different or regex ones do not.
        ("uri: {prefix: /a}", "uri: {exact: /a/b}", false),
        ("uri: {prefix: /a/b}", "uri: {prefix: /a}", true),
        ("uri: {exact: /a}", "uri: {prefix: /a}", true),
        ("method: {exact: GET}", "method: {exact: POST}", true),
        ("scheme: {regex: 'https?'}", "scheme: {exact: https}", true),
        // Unset on either side never conflicts.
        (
            "headers: {x-a: {exact: '1'}}",
            "headers: {x-b: {exact: '2'}}",
            false,
        ),
        (
            "queryParams: {v: {exact: '1'}}",
            "queryParams: {v: {exact: '2'}}",
            true,
        ),
        ("port: 80", "port: 8080", true),
        ("port: 80", "{}", false),
        ("ignoreUriCase: true", "{}", true),
        ("sourceNamespace: front", "sourceNamespace: back", true),
        ("sourceLabels: {app: web}", "sourceLabels: {app: api}", true),
        ("gateways: [mesh, edge]", "gateways: [edge]", false),
        ("gateways: [edge]", "gateways: [mesh]", true),
    ];
    let read = |yaml: &str| -> HttpMatchRequest {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    };
    for (root, leaf, expected) in cases {
        assert_eq!(
            conflicts(&read(root), &read(leaf)),
            expected,
            "root {root}, delegate {leaf}"
        );
    }
}

#[test]
fn a_delegate_match_fitting_several_root_matches_gets_one_per_root_match() {
    let merged = merge_matches(
        &[
            request(json!({"uri": {"prefix": "/a"}, "port": 80})),
            request(json!({"uri": {"prefix": "/"}, "gateways": ["edge"]})),
        ],
        &[request(
            json!({"uri": {"prefix": "/a/b"}, "sourceLabels": {"app": "web"}}),
        )],
    );
    assert_eq!(
        merged,
        Some(vec![
            request(json!({"uri": {"prefix": "/a/b"}, "port": 80, "sourceLabels": {"app": "web"}})),
            request(json!({"uri": {"prefix": "/a/b"}, "gateways": ["edge"],
                           "sourceLabels": {"app": "web"}})),
        ])
    );
    assert_eq!(
        merge_matches(
            &[request(json!({"uri": {"prefix": "/a"}}))],
            &[
                request(json!({"uri": {"prefix": "/a/b"}})),
                request(json!({"uri": {"prefix": "/z"}}))
            ],
        ),
        None
    );
}
