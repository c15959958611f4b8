use envoy_types::pb::envoy::config::{cluster::v3::Cluster, listener::v3::Listener};

use super::*;
use crate::translate::Resources;

/// An inbound side: a cluster on `port` whose connect timeout tells services apart, and the
/// inbound listener.
fn side(port: u16, service: i64) -> Part {
    let connect_timeout = Some(envoy_types::pb::google::protobuf::Duration {
        seconds: service,
        nanos: 0,
    });
    Part::new(Resources {
        clusters: vec![Cluster {
            name: format!("inbound|{port}||"),
            connect_timeout,
            ..Cluster::default()
        }],
        listeners: vec![Listener {
            name: "virtualInbound".to_string(),
            ..Listener::default()
        }],
        ..Resources::default()
    })
}

#[test]
fn equal_inbound_sides_are_one() {
    let shared = InboundParts::default();
    let first = shared.share(side(9080, 1));
    let second = shared.share(side(9080, 1));
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(Arc::strong_count(&first), 2);
}

#[test]
fn an_inbound_side_that_differs_keeps_its_own_and_takes_the_equal_types() {
    let shared = InboundParts::default();
    let first = shared.share(side(9080, 1));
    let other_service = shared.share(side(9080, 2));
    assert!(!Arc::ptr_eq(&first, &other_service));
    assert!(!other_service.shares_list(&first, ResourceType::Cluster));
    // The listener is the same for both: one list.
    assert!(other_service.shares_list(&first, ResourceType::Listener));
    assert_eq!(
        other_service
            .encoded
            .list(ResourceType::Cluster)
            .map(|l| l[0].name()),
        Some("inbound|9080||")
    );
}

#[test]
fn an_inbound_side_no_sidecar_holds_is_made_again() {
    let shared = InboundParts::default();
    drop(shared.share(side(9080, 1)));
    let again = shared.share(side(9080, 1));
    // Made anew: held by the caller alone, and weakly by its entry and as the last one made.
    assert_eq!(Arc::strong_count(&again), 1);
    assert_eq!(Arc::weak_count(&again), 2);
    assert_eq!(shared.read(|inner| inner.parts.len()), 1);
}

#[test]
fn the_same_parts_are_assembled_once_and_their_lists_merged() {
    let shared = InboundParts::default();
    let outbound = Arc::new(side(80, 3));
    let inbound = shared.share(side(9080, 1));
    let a = shared.assemble(vec![Arc::clone(&outbound), Arc::clone(&inbound)]);
    let b = shared.assemble(vec![Arc::clone(&outbound), Arc::clone(&inbound)]);
    assert!(Arc::ptr_eq(&a, &b));
    let list = a.list(ResourceType::Cluster);
    let clusters: Vec<&str> = list.iter().map(|r| r.name()).collect();
    assert_eq!(clusters, ["inbound|80||", "inbound|9080||"]);
    // One part alone: its very list.
    let alone = shared.assemble(vec![Arc::clone(&outbound)]);
    let own = outbound.encoded.list(ResourceType::Cluster).cloned();
    assert!(own.is_some_and(|own| ResourceList::ptr_eq(&alone.list(ResourceType::Cluster), &own)));
    assert!(alone.list(ResourceType::Secret).is_empty());
}

#[test]
fn entries_nothing_holds_are_swept() {
    let shared = InboundParts::default();
    for service in 0..200 {
        drop(shared.share(side(9080, service)));
    }
    let kept = shared.read(|inner| inner.parts.len());
    // Swept when the 128th was put in (itself still held then), then 72 more.
    assert_eq!(kept, 73);
}
