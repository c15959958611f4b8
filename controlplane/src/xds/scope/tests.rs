use envoy_types::pb::google::protobuf::{Struct, Value};

use super::*;

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn namespaces(names: &[&str]) -> Scope {
    Scope::Namespaces(set(names))
}

fn target(class: ProxyClass, namespace: &str, ip: &str) -> Target {
    Target {
        class: Some(class),
        namespace: Some(namespace.to_string()),
        ips: vec![ip.to_string()],
    }
}

/// Sidecars of `a` for every type, routers of `b` for endpoints only.
fn mixed() -> Scope {
    Scope::Some(Affected {
        all_types: Proxies {
            sidecars: Within::Namespaces(set(&["a"])),
            ..Proxies::default()
        },
        endpoints: Proxies {
            routers: Within::Namespaces(set(&["b"])),
            addresses: set(&["198.18.0.9"]),
            ..Proxies::default()
        },
    })
}

#[test]
fn namespaces_merge_and_match() {
    assert_eq!(
        namespaces(&["a"]).merge(namespaces(&["b"])),
        namespaces(&["a", "b"])
    );
    assert_eq!(namespaces(&["a"]).merge(Scope::All), Scope::All);
    assert_eq!(mixed().merge(Scope::All), Scope::All);
    assert!(namespaces(&["a"]).affects(Some("a")));
    assert!(!namespaces(&["a"]).affects(Some("b")));
    assert!(namespaces(&["a"]).affects(None));
    assert!(Scope::All.affects(Some("b")));
}

#[test]
fn a_scope_reaches_proxies_by_kind_namespace_and_address() {
    let scope = mixed();
    let sidecar_a = target(ProxyClass::Sidecar, "a", "198.18.0.1");
    let sidecar_b = target(ProxyClass::Sidecar, "b", "198.18.0.2");
    let router_a = target(ProxyClass::Router, "a", "198.18.0.3");
    let router_b = target(ProxyClass::Router, "b", "198.18.0.4");
    let workload = target(ProxyClass::Sidecar, "c", "198.18.0.9");
    assert_eq!(scope.reach(&sidecar_a), Reach::All);
    assert_eq!(scope.reach(&sidecar_b), Reach::None);
    assert_eq!(scope.reach(&router_a), Reach::None);
    assert_eq!(scope.reach(&router_b), Reach::Endpoints);
    assert_eq!(scope.reach(&workload), Reach::Endpoints);
    // A proxy the scope cannot place is reached by any change that reaches anyone.
    assert_eq!(scope.reach(&Target::default()), Reach::All);
    assert_eq!(Scope::none().reach(&Target::default()), Reach::None);
    assert!(Scope::none().is_empty());
    assert!(!scope.is_empty());
}

#[test]
fn merging_keeps_each_part_and_the_widest_reach() {
    let more = Scope::Some(Affected {
        all_types: Proxies {
            routers: Within::All,
            ..Proxies::default()
        },
        endpoints: Proxies::default(),
    });
    let merged = mixed().merge(more).merge(namespaces(&["c"]));
    let Scope::Some(affected) = &merged else {
        panic!("merged into {merged:?}");
    };
    assert_eq!(
        affected.all_types.sidecars,
        Within::Namespaces(set(&["a", "c"]))
    );
    assert_eq!(affected.all_types.routers, Within::All);
    assert_eq!(affected.endpoints.routers, Within::Namespaces(set(&["b"])));
    assert_eq!(
        merged.reach(&target(ProxyClass::Router, "b", "198.18.0.4")),
        Reach::All
    );
    assert_eq!(
        merged.reach(&target(ProxyClass::Sidecar, "b", "198.18.0.2")),
        Reach::None
    );
}

#[test]
fn a_reach_says_which_types_to_regenerate() {
    let eds = ResourceType::ClusterLoadAssignment;
    assert!(Reach::All.includes(ResourceType::Listener));
    assert!(Reach::Endpoints.includes(eds));
    assert!(!Reach::Endpoints.includes(ResourceType::Cluster));
    assert!(!Reach::None.includes(eds));
    assert_eq!(
        [Reach::All, Reach::Endpoints, Reach::None].map(Reach::label),
        ["all", "endpoints", "skipped"]
    );
}

#[test]
fn a_target_is_read_from_the_node() {
    let node = Node {
        id: "router~198.18.0.7~ingress-1.edge~edge.svc.cluster.local".into(),
        metadata: Some(Struct {
            fields: [(
                node_metadata::INSTANCE_IPS.to_string(),
                Value {
                    kind: Some(Kind::StringValue("198.18.0.7, 198.18.1.7".into())),
                },
            )]
            .into(),
        }),
        ..Node::default()
    };
    assert_eq!(
        Target::of_node(&node),
        Target {
            class: Some(ProxyClass::Router),
            namespace: Some("edge".to_string()),
            ips: vec!["198.18.0.7".to_string(), "198.18.1.7".to_string()],
        }
    );
    let unknown = Target::of_node(&Node {
        id: "something".into(),
        ..Node::default()
    });
    assert_eq!(unknown, Target::default());
}

#[test]
fn every_namespace_but_some_merges_and_matches() {
    let merged = |a: Within, b: Within| {
        let mut a = a;
        a.merge(b);
        a
    };
    let all_but = |names: &[&str]| Within::AllBut(set(names));
    let some = |names: &[&str]| Within::Namespaces(set(names));
    assert_eq!(
        merged(all_but(&["a", "b"]), some(&["b", "c"])),
        all_but(&["a"])
    );
    assert_eq!(merged(some(&["b"]), all_but(&["a", "b"])), all_but(&["a"]));
    assert_eq!(
        merged(all_but(&["a", "b"]), all_but(&["b", "c"])),
        all_but(&["b"])
    );
    // Nothing left out is every namespace.
    assert_eq!(merged(all_but(&["a"]), some(&["a"])), Within::All);
    assert_eq!(merged(all_but(&["a"]), Within::All), Within::All);
    let mut within = all_but(&["a", "b"]);
    within.insert("a");
    assert_eq!(within, all_but(&["b"]));
    assert!(!within.contains("b"));
    assert!(within.contains("a"));
    assert!(within.contains("z"));
    assert!(!within.is_empty());
    let proxies = Proxies {
        sidecars: all_but(&["a"]),
        ..Proxies::default()
    };
    assert!(!proxies.reaches(&target(ProxyClass::Sidecar, "a", "198.18.0.1")));
    assert!(proxies.reaches(&target(ProxyClass::Sidecar, "b", "198.18.0.1")));
    assert!(!proxies.reaches(&target(ProxyClass::Router, "b", "198.18.0.1")));
    // A proxy of no known namespace is reached.
    assert!(proxies.reaches(&Target::default()));
}
