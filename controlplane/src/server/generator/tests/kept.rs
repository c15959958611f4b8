//! What a change does not reach is kept: whole translations, inbound sides, and the
//! encodings of the types that came out equal.

use super::*;
use crate::{
    model::Diff,
    server::{
        affected,
        fixtures::{API_1, Files, PRIVATE_VS, WEB_1, WEB_2, two_namespaces},
    },
};

/// A sidecar of `namespace` at `ip`.
fn sidecar_node(namespace: &str, pod: &str, ip: &str) -> Node {
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
fn change(
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
    let (snapshots, rx) = watch::channel(files.load(&base));
    let generator = ModelGenerator::new(rx, Arc::new(Metrics::new()));
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
    let (old, new) = (&a.parts[0], &a_after.parts[0]);
    assert!(new.shares_encoding(old, ResourceType::Cluster));
    assert!(new.shares_encoding(old, ResourceType::ClusterLoadAssignment));
    assert!(!new.shares_encoding(old, ResourceType::RouteConfiguration));
}

#[test]
fn an_endpoint_change_keeps_the_inbound_side_and_encodes_endpoints_alone() {
    let mut files = Files::new(MeshConfig::default());
    let (snapshots, rx) = watch::channel(files.load(&two_namespaces(false)));
    let generator = ModelGenerator::new(rx, Arc::new(Metrics::new()));
    let in_b = sidecar_node("b", "api-0", API_1);
    let before = generator.translate(&in_b).unwrap();
    change(&mut files, &snapshots, &generator, &two_namespaces(true));
    let after = generator.translate(&in_b).unwrap();
    assert!(after.shares_part(&before, 1), "the inbound side is kept");
    assert!(!after.shares_part(&before, 0));
    let (old, new) = (&before.parts[0], &after.parts[0]);
    for kind in [
        ResourceType::Cluster,
        ResourceType::Listener,
        ResourceType::RouteConfiguration,
    ] {
        assert!(new.shares_encoding(old, kind), "{kind:?}");
    }
    assert!(!new.shares_encoding(old, ResourceType::ClusterLoadAssignment));
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
    let (snapshots, rx) = watch::channel(files.load(&two_namespaces(false)));
    let generator = ModelGenerator::new(rx, Arc::new(Metrics::new()));
    let in_b = sidecar_node("b", "api-0", API_1);
    let before = generator.translate(&in_b).unwrap();
    // Published, but its scope not recorded (the announcer has not seen it yet).
    snapshots.send_replace(files.load(&format!("{}{PRIVATE_VS}", two_namespaces(false))));
    let after = generator.translate(&in_b).unwrap();
    assert!(!after.shares_part(&before, 0));
    assert!(!after.shares_part(&before, 1));
}
