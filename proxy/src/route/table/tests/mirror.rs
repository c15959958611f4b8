//! `request_mirror_policies` compiled with their route, and refused by path.

use envoy_types::pb::envoy::config::route::v3::route_action::RequestMirrorPolicy;

use super::*;

#[test]
fn mirror_policies_are_compiled_with_the_route() {
    let mirrored = |policy: RequestMirrorPolicy| RouteAction {
        request_mirror_policies: vec![policy],
        ..forward("c")
    };
    assert_eq!(
        nack::refused_action(mirrored(RequestMirrorPolicy {
            cluster: "m".into(),
            cluster_header: "x-mirror".into(),
            ..Default::default()
        })),
        "virtual_hosts[0].routes[0].route.request_mirror_policies[0].cluster_header: not supported by mesh-proxy"
    );
    let table = RouteTable::compile(&config(vec![vhost(
        "v",
        &["*"],
        vec![route(
            prefix("/"),
            mirrored(RequestMirrorPolicy {
                cluster: "m".into(),
                ..Default::default()
            }),
        )],
    )]))
    .expect("a mirror to a named cluster compiles");
    let Action::Forward(forward) = &table.virtual_hosts()[0].routes[0].action else {
        panic!("not forwarded");
    };
    assert_eq!(forward.policy.mirrors.len(), 1);
    assert_eq!(forward.policy.mirrors[0].cluster, "m");
    assert!(forward.policy.mirrors[0].suffix_host);
}
