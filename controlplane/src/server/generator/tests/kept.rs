//! What a change does not reach is kept: whole translations, inbound sides, and the
//! encodings of the types that came out equal.

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

use super::*;
use crate::{
    model::Diff,
    server::{
        affected,
        fixtures::{API_1, Files, PRIVATE_VS, WEB_1, WEB_2, two_namespaces},
    },
};

/// A sidecar of `namespace` at `ip`.
pub(super) fn sidecar_node(namespace: &str, pod: &str, ip: &str) -> Node {
    let mut node = node(&format!(
        "sidecar~{ip}~{pod}.{namespace}~{namespace}.svc.cluster.local"
    ));
    if let Some(metadata) = node.metadata.as_mut() {
        metadata.fields.insert(
            node_metadata::NAMESPACE.to_string(),
            translate::string_value(namespace),
        );
    }
    node
}

/// Publishes the snapshot of `yaml` and records its change, as the announcer does.
pub(super) fn change(
    files: &mut Files,
    snapshots: &watch::Sender<Arc<Snapshot>>,
    generator: &ModelGenerator,
    yaml: &str,
) {
    let before = snapshots.borrow().clone();
    let after = files.load(yaml);
    let scope = affected::scope(&before, &after, &Diff::between(&before, &after));
    generator.record(before.version(), after.version(), scope);
    snapshots.send_replace(after);
}

#[test]
fn a_translation_no_change_reached_is_kept() {
    let mut files = Files::new(MeshConfig::default());
    let base = two_namespaces(false);
    let (snapshots, generator) = generator_from(files.load(&base));
    let (in_a, in_b) = (
        sidecar_node("a", "web-0", WEB_1),
        sidecar_node("b", "api-0", API_1),
    );
    let (a, b) = (
        generator.translate(&in_a).unwrap(),
        generator.translate(&in_b).unwrap(),
    );
    change(
        &mut files,
        &snapshots,
        &generator,
        &format!("{base}{PRIVATE_VS}"),
    );
    let (a_after, b_after) = (
        generator.translate(&in_a).unwrap(),
        generator.translate(&in_b).unwrap(),
    );
    assert!(b_after.shares_parts_with(&b));
    assert_eq!(b_after.version, generator.snapshot().version());
    assert!(!a_after.shares_part(&a, 0));
    // What a's sidecar gets is what translating it afresh gives, and what did not change
    // was not encoded again.
    let fresh =
        |node: &Node| translate::sidecar(&generator.snapshot(), &Proxy::from_node(node).unwrap());
    assert_eq!(a_after.resources(), fresh(&in_a));
    assert_eq!(b_after.resources(), fresh(&in_b));
    assert_ne!(a_after.resources().routes, a.resources().routes);
    let (old, new) = (&a.parts()[0], &a_after.parts()[0]);
    assert!(new.shares_encoding(old, ResourceType::Cluster));
    assert!(new.shares_encoding(old, ResourceType::ClusterLoadAssignment));
    assert!(!new.shares_encoding(old, ResourceType::RouteConfiguration));
}

#[test]
fn an_endpoint_change_keeps_the_inbound_side_and_encodes_endpoints_alone() {
    let mut files = Files::new(MeshConfig::default());
    let (snapshots, generator) = generator_from(files.load(&two_namespaces(false)));
    let in_b = sidecar_node("b", "api-0", API_1);
    let before = generator.translate(&in_b).unwrap();
    change(&mut files, &snapshots, &generator, &two_namespaces(true));
    let after = generator.translate(&in_b).unwrap();
    assert!(after.shares_part(&before, 1), "the inbound side is kept");
    assert!(!after.shares_part(&before, 0));
    let (old, new) = (&before.parts()[0], &after.parts()[0]);
    assert_endpoints_alone_encoded(old, new);
    let proxy = Proxy::from_node(&in_b).unwrap();
    assert_eq!(
        after.resources(),
        translate::sidecar(&generator.snapshot(), &proxy)
    );
    // The new pod's own sidecar is translated whole.
    let new_pod = sidecar_node("a", "web-1", WEB_2);
    let proxy = Proxy::from_node(&new_pod).unwrap();
    assert_eq!(
        generator.translate(&new_pod).unwrap().resources(),
        translate::sidecar(&generator.snapshot(), &proxy)
    );
}

#[test]
fn a_change_not_recorded_translates_anew() {
    let mut files = Files::new(MeshConfig::default());
    let (snapshots, generator) = generator_from(files.load(&two_namespaces(false)));
    let in_b = sidecar_node("b", "api-0", API_1);
    let before = generator.translate(&in_b).unwrap();
    // Published, but its scope not recorded (the announcer has not seen it yet).
    snapshots.send_replace(files.load(&format!("{}{PRIVATE_VS}", two_namespaces(false))));
    let after = generator.translate(&in_b).unwrap();
    assert!(!after.shares_part(&before, 0));
    // The inbound side is translated again too; it came out equal, so the one the sidecar
    // holds is kept (see `inbound`).
    assert!(after.shares_part(&before, 1));
    let proxy = Proxy::from_node(&in_b).unwrap();
    assert_eq!(
        after.resources(),
        translate::sidecar(&generator.snapshot(), &proxy)
    );
}

/// How many outbound sides were made whole, and how many by their endpoints alone.
pub(super) fn outbound_counts(generator: &ModelGenerator) -> (u64, u64) {
    let status = crate::xds::StatusSnapshot {
        proxies: Vec::new(),
        pushes_total: Default::default(),
        nacks_total: Default::default(),
        reached_total: Default::default(),
    };
    let observed = crate::server::metrics::Observed {
        status: &status,
        load_errors: &[],
        snapshot_version: 0,
    };
    let text = generator.metrics().render(&observed);
    let count = |part: &str| -> u64 {
        let prefix = format!("mesh_controlplane_outbound_translations_total{{part=\"{part}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"))
    };
    (count("whole"), count("endpoints"))
}

/// Of the types of `new`, only the load assignments were encoded again since `old`.
fn assert_endpoints_alone_encoded(old: &Part, new: &Part) {
    for kind in [
        ResourceType::Cluster,
        ResourceType::Listener,
        ResourceType::RouteConfiguration,
    ] {
        assert!(new.shares_encoding(old, kind), "{kind:?}");
    }
    assert!(!new.shares_encoding(old, ResourceType::ClusterLoadAssignment));
}

/// The `address:port` of each endpoint of `assignment`, in order.
fn addresses(assignment: &ClusterLoadAssignment) -> Vec<String> {
    use envoy_types::pb::envoy::config::{
        core::v3::{address, socket_address::PortSpecifier},
        endpoint::v3::lb_endpoint::HostIdentifier,
    };
    let mut found = Vec::new();
    for locality in &assignment.endpoints {
        for lb in &locality.lb_endpoints {
            let Some(HostIdentifier::Endpoint(endpoint)) = &lb.host_identifier else {
                panic!("not an endpoint: {lb:?}");
            };
            let Some(address::Address::SocketAddress(socket)) =
                endpoint.address.as_ref().and_then(|a| a.address.as_ref())
            else {
                panic!("not a socket address: {endpoint:?}");
            };
            let Some(PortSpecifier::PortValue(port)) = socket.port_specifier else {
                panic!("no port: {socket:?}");
            };
            found.push(format!("{}:{port}", socket.address));
        }
    }
    found
}

#[test]
fn an_endpoint_change_translates_endpoints_alone_and_a_config_change_everything() {
    let mut files = Files::new(MeshConfig::default());
    let (snapshots, generator) = generator_from(files.load(&two_namespaces(false)));
    let in_b = sidecar_node("b", "api-0", API_1);
    let before = generator.translate(&in_b).unwrap();
    assert_eq!(outbound_counts(&generator), (1, 0));
    change(&mut files, &snapshots, &generator, &two_namespaces(true));
    let after = generator.translate(&in_b).unwrap();
    // The outbound translation did not run: only the load assignments were made.
    assert_eq!(outbound_counts(&generator), (1, 1));
    let (old, new) = (&before.parts()[0], &after.parts()[0]);
    assert_endpoints_alone_encoded(old, new);
    let web = "outbound|80||web.a.svc.cluster.local";
    let new_endpoints = new.resources().endpoints;
    let cluster_names: Vec<&str> = new_endpoints
        .iter()
        .map(|a| a.cluster_name.as_str())
        .collect();
    assert_eq!(cluster_names, ["outbound|80||api.b.svc.cluster.local", web]);
    // Of the load assignments, web's alone was encoded again: api's is the very encoding the
    // proxies were sent, so a push leaves it out.
    let eds = ResourceType::ClusterLoadAssignment;
    let kept: Vec<bool> = new
        .encoded
        .of_type(eds)
        .iter()
        .zip(old.encoded.of_type(eds))
        .map(|(new, old)| Arc::ptr_eq(new, old))
        .collect();
    assert_eq!(kept, [true, false]);
    assert_eq!(
        addresses(&new_endpoints[1]),
        [format!("{WEB_1}:8080"), format!("{WEB_2}:8080")]
    );
    assert_eq!(
        addresses(&old.resources().endpoints[1]),
        [format!("{WEB_1}:8080")]
    );
    let proxy = Proxy::from_node(&in_b).unwrap();
    let snapshot = generator.snapshot();
    assert_eq!(
        new.resources(),
        translate::sidecar_outbound(
            &snapshot,
            &Proxy {
                ips: Vec::new(),
                pod: String::new(),
                ..proxy.clone()
            }
        )
    );
    assert_eq!(after.resources(), translate::sidecar(&snapshot, &proxy));
    // A sidecar asking again at the same snapshot is served what was made.
    assert!(
        generator
            .translate(&in_b)
            .unwrap()
            .shares_parts_with(&after)
    );
    // A config change that reaches b translates its outbound side whole again.
    let private_api = PRIVATE_VS
        .replace("name: web, namespace: a", "name: api, namespace: b")
        .replace("hosts: [web]", "hosts: [api]")
        .replace("host: web", "host: api");
    change(
        &mut files,
        &snapshots,
        &generator,
        &format!("{}{private_api}", two_namespaces(true)),
    );
    let changed = generator.translate(&in_b).unwrap();
    assert_eq!(outbound_counts(&generator), (2, 1));
    assert_ne!(changed.resources().routes, after.resources().routes);
    assert_eq!(
        changed.resources(),
        translate::sidecar(&generator.snapshot(), &proxy)
    );
}

/// Subsets of reviews, and a Sidecar that leaves mongodb and details out.
const SUBSETS_AND_EGRESS: &str = "
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: [./reviews.default.svc.cluster.local, ./ratings.default.svc.cluster.local, ./productpage.default.svc.cluster.local]
";

#[test]
fn the_endpoints_alone_are_what_the_outbound_side_has() {
    let node = node(PRODUCTPAGE);
    let proxy = Proxy::from_node(&node).unwrap();
    for yaml in [
        BOOKINFO.to_string(),
        format!("{BOOKINFO}{SUBSETS_AND_EGRESS}"),
    ] {
        let snapshot = snapshot(&yaml);
        let outbound = translate::sidecar_outbound(&snapshot, &proxy);
        assert_eq!(
            translate::sidecar_endpoints(&snapshot, &proxy),
            outbound.endpoints
        );
        let sources = translate::sidecar_sources(&snapshot, &proxy);
        let made: Vec<ClusterLoadAssignment> = sources.iter().map(|s| s.assignment()).collect();
        assert_eq!(made, outbound.endpoints);
    }
    let snapshot = snapshot(&format!("{BOOKINFO}{SUBSETS_AND_EGRESS}"));
    let endpoints = translate::sidecar_endpoints(&snapshot, &proxy);
    let names: Vec<&str> = endpoints.iter().map(|a| a.cluster_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "outbound|9080|v1|reviews.default.svc.cluster.local",
            "outbound|9080|v2|reviews.default.svc.cluster.local",
            "outbound|9080||productpage.default.svc.cluster.local",
            "outbound|9080||ratings.default.svc.cluster.local",
            "outbound|9080||reviews.default.svc.cluster.local",
        ]
    );
    let counts: Vec<usize> = endpoints.iter().map(|a| addresses(a).len()).collect();
    assert_eq!(counts, [1, 1, 1, 1, 3]);
}
