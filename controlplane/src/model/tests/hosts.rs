//! Host resolution, wildcard matching and `exportTo` visibility.

use pretty_assertions::assert_eq;

use super::{build, fixtures::bookinfo};
use crate::model::{ExportTo, host_matches, resolve_host};

#[test]
fn hosts_resolve_as_istio_completes_them() {
    let cases = [
        ("reviews", "default", "reviews.default.svc.cluster.local"),
        ("reviews", "prod", "reviews.prod.svc.cluster.local"),
        (
            "reviews.prod.svc",
            "default",
            "reviews.prod.svc.cluster.local",
        ),
        (
            "reviews.prod.svc.cluster.local",
            "default",
            "reviews.prod.svc.cluster.local",
        ),
        ("api.example.com", "default", "api.example.com"),
        // Two labels: a name outside the cluster, unless the registry says otherwise.
        ("example.com", "default", "example.com"),
        ("reviews.prod", "default", "reviews.prod"),
        ("*.example.com", "default", "*.example.com"),
        ("*", "default", "*"),
    ];
    for (host, namespace, expected) in cases {
        assert_eq!(
            resolve_host(host, namespace, "cluster.local"),
            expected,
            "{host} from {namespace}"
        );
    }
    assert_eq!(
        resolve_host("reviews", "default", "corp.internal"),
        "reviews.default.svc.corp.internal"
    );
}

#[test]
fn the_snapshot_completes_name_dot_namespace_for_its_services() {
    let snapshot = build(&bookinfo());
    let cases = [
        (
            "reviews.default",
            "prod",
            "reviews.default.svc.cluster.local",
        ),
        ("reviews", "default", "reviews.default.svc.cluster.local"),
        // No Service `reviews` in `prod`, no Service `example` in `com`.
        ("reviews.prod", "default", "reviews.prod"),
        ("example.com", "default", "example.com"),
        ("*.default", "default", "*.default"),
    ];
    for (host, namespace, expected) in cases {
        assert_eq!(
            snapshot.resolve_host(host, namespace),
            expected,
            "{host} from {namespace}"
        );
    }
}

#[test]
fn wildcards_match_hosts() {
    let cases = [
        ("*", "reviews.default.svc.cluster.local", true),
        ("*.example.com", "api.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "*.api.example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "badexample.com", false),
        ("*.Example.com", "api.example.COM", true),
        ("api.example.com", "api.example.com", true),
        ("api.example.com", "web.example.com", false),
        ("api.example.com", "*.example.com", false),
    ];
    for (pattern, host, expected) in cases {
        assert_eq!(host_matches(pattern, host), expected, "{pattern} ~ {host}");
    }
}

#[test]
fn services_matching_a_pattern() {
    let snapshot = build(&bookinfo());
    let matching = |pattern: &str| -> Vec<String> {
        snapshot
            .services_matching(pattern)
            .map(|s| s.hostname.clone())
            .collect()
    };
    assert_eq!(matching("*").len(), 4);
    assert_eq!(
        matching("*.default.svc.cluster.local"),
        [
            "details.default.svc.cluster.local",
            "productpage.default.svc.cluster.local",
            "ratings.default.svc.cluster.local",
            "reviews.default.svc.cluster.local",
        ]
    );
    assert_eq!(
        matching("ratings.default.svc.cluster.local"),
        ["ratings.default.svc.cluster.local"]
    );
    assert_eq!(matching("*.prod.svc.cluster.local"), Vec::<String>::new());
}

#[test]
fn export_to_values_resolve_against_the_own_namespace() {
    let all = || vec!["*".to_string()];
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let namespaces = |v: &[&str]| ExportTo::Namespaces(v.iter().map(|s| s.to_string()).collect());
    let cases = [
        (strings(&[]), all(), ExportTo::All),
        (strings(&["*"]), strings(&["."]), ExportTo::All),
        (strings(&["."]), all(), namespaces(&["shop"])),
        (strings(&[]), strings(&["."]), namespaces(&["shop"])),
        (
            strings(&[".", "istio-system"]),
            all(),
            namespaces(&["istio-system", "shop"]),
        ),
        (strings(&["~"]), all(), namespaces(&[])),
    ];
    for (values, default, expected) in cases {
        assert_eq!(
            ExportTo::resolve(&values, &default, "shop"),
            expected,
            "{values:?} with default {default:?}"
        );
    }
    assert_eq!(
        ExportTo::from_annotation(Some(" .,backend "), &all(), "shop"),
        namespaces(&["backend", "shop"])
    );
    assert_eq!(
        ExportTo::from_annotation(None, &strings(&["."]), "shop"),
        namespaces(&["shop"])
    );
    let visible = namespaces(&["backend", "shop"]);
    assert!(visible.is_visible_from("shop"));
    assert!(visible.is_visible_from("backend"));
    assert!(!visible.is_visible_from("default"));
    assert!(ExportTo::All.is_visible_from("default"));
    assert!(!namespaces(&[]).is_visible_from("shop"));
}
