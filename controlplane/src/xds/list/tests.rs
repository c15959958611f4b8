use std::collections::HashMap;

use envoy_types::pb::envoy::{
    config::{core::v3::Node, endpoint::v3::ClusterLoadAssignment},
    service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest},
};
use mesh_xds::{Resource, ResourceType};
use pretty_assertions::assert_eq;

use super::*;
use crate::xds::{Action, delta::DeltaConnection, names::Interest, sotw::SotwConnection};

const EDS: ResourceType = ResourceType::ClusterLoadAssignment;

/// Load assignments whose content (and so version) varies with `generation`.
fn assignments(named: &[(&str, u32)]) -> Vec<Arc<Encoded>> {
    (named.iter())
        .map(|(name, generation)| {
            Encoded::new(Resource::from(ClusterLoadAssignment {
                cluster_name: format!("list-tests|{name}"),
                endpoints: vec![Default::default(); *generation as usize],
                ..ClusterLoadAssignment::default()
            }))
        })
        .collect()
}

fn names(list: &[Arc<Encoded>]) -> Vec<&str> {
    list.iter()
        .map(|r| r.name().trim_start_matches("list-tests|"))
        .collect()
}

fn set(names: &[&str]) -> NameSet {
    Interest::names(names.iter().map(|name| format!("list-tests|{name}")))
}

#[test]
fn the_version_is_hashed_once_and_is_what_each_stream_hashed_before() {
    let list = ResourceList::new(assignments(&[("b", 1), ("a", 2), ("c", 0)]));
    assert_eq!(names(&list), ["a", "b", "c"]);
    // What a stream computed for itself before: its resources in name order, hashed.
    let mut sorted = assignments(&[("b", 1), ("a", 2), ("c", 0)]);
    sorted.sort_by(|a, b| a.name().cmp(b.name()));
    let expected = hash::response_version(sorted.iter().map(|r| (r.name(), r.version())));
    assert_eq!(list.version(), expected);
    // Cached: the very same string, for every handle to the list.
    let handle = list.clone();
    assert_eq!(list.version().as_ptr(), handle.version().as_ptr());
    assert_eq!(ResourceList::default().version(), "cbf29ce484222325");
    // One empty list, which every stream starts from.
    assert!(ResourceList::ptr_eq(
        &ResourceList::default(),
        &ResourceList::default()
    ));
}

#[test]
fn a_selection_is_made_once_per_name_set_and_is_the_list_when_it_names_all() {
    let list = ResourceList::new(assignments(&[("a", 0), ("b", 0), ("c", 0)]));
    let all = set(&["a", "b", "c", "not-there"]);
    assert!(ResourceList::ptr_eq(&list.select(&all), &list));
    let some = set(&["c", "a"]);
    let first = list.select(&some);
    assert_eq!(names(&first), ["a", "c"]);
    let expected = hash::response_version(first.iter().map(|r| (r.name(), r.version())));
    assert_eq!(first.version(), expected);
    // Another stream's equal subscription is the same interned set: the same selection.
    let again = list.select(&set(&["a", "c"]));
    assert!(ResourceList::ptr_eq(&first, &again));
    assert_eq!(list.0.selections.read().unwrap().len(), 2);
    // A set no stream holds is forgotten when the next one is remembered.
    drop((all, some));
    let other = set(&["b"]);
    assert_eq!(names(&list.select(&other)), ["b"]);
    assert_eq!(list.0.selections.read().unwrap().len(), 1);
}

#[test]
fn changes_since_an_older_list_are_worked_out_once() {
    let older = ResourceList::new(assignments(&[("a", 0), ("b", 0), ("c", 0)]));
    let newer = ResourceList::new(assignments(&[("a", 0), ("b", 1), ("d", 0)]));
    let diff = newer.changes_since(&older);
    assert_eq!(names(&diff.changed), ["b", "d"]);
    assert_eq!(
        (diff.removed.iter())
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["list-tests|c"]
    );
    assert!(Arc::ptr_eq(&diff, &newer.changes_since(&older)));
    assert_eq!(*newer.changes_since(&newer), Diff::default());
    // An equal resource made again is not a change.
    let remade = ResourceList::new(assignments(&[("a", 0), ("b", 1), ("d", 0)]));
    assert_eq!(*remade.changes_since(&newer), Diff::default());
}

fn delta_request(subscribe: &[&str], nonce: &str, has: &[(&str, u32)]) -> DeltaDiscoveryRequest {
    let versions = assignments(has);
    DeltaDiscoveryRequest {
        node: Some(Node {
            id: "sidecar~198.18.0.5~ratings-v1.bookinfo~bookinfo.svc.cluster.local".into(),
            ..Node::default()
        }),
        type_url: EDS.type_url().into(),
        resource_names_subscribe: (subscribe.iter())
            .map(|n| format!("list-tests|{n}"))
            .collect(),
        initial_resource_versions: (versions.iter())
            .map(|r| (r.name().to_string(), r.version().to_string()))
            .collect::<HashMap<_, _>>(),
        response_nonce: nonce.into(),
        ..DeltaDiscoveryRequest::default()
    }
}

/// A delta push worked out from the shared difference of two lists is the response the
/// stream worked out on its own: here, a stream that reconnected saying what it has.
#[test]
fn a_delta_push_from_the_shared_diff_is_the_response_worked_out_alone() {
    let older = ResourceList::new(assignments(&[("a", 0), ("b", 0), ("c", 0)]));
    let newer = ResourceList::new(assignments(&[("a", 0), ("b", 1), ("d", 0)]));
    let wanted = ["a", "b", "c", "d"];
    let (mut one, mut two) = (DeltaConnection::new(), DeltaConnection::new());
    for connection in [&mut one, &mut two] {
        let first = connection.on_request(&delta_request(&wanted, "", &[]));
        assert_eq!(first, Ok(Action::Respond));
        connection.respond(EDS, older.clone(), true).unwrap();
        let ack = connection.on_request(&delta_request(&[], "1", &[]));
        assert_eq!(ack, Ok(Action::Ack));
    }
    let push_one = one.respond(EDS, newer.clone(), false).unwrap();
    let push_two = two.respond(EDS, newer.clone(), false).unwrap();
    assert_eq!(names(&push_one.resources), ["b", "d"]);
    assert_eq!(push_one.removed_resources, ["list-tests|c"]);
    assert_eq!(push_one, push_two);
    // Both were cut from one diff: the same handles.
    assert!(Arc::ptr_eq(&push_one.resources[0], &push_two.resources[0]));

    let mut alone = DeltaConnection::new();
    let has = [("a", 0), ("b", 0), ("c", 0)];
    let reconnect = alone.on_request(&delta_request(&wanted, "", &has));
    assert_eq!(reconnect, Ok(Action::Respond));
    let response = alone.respond(EDS, newer.clone(), false).unwrap();
    assert_eq!(response.resources, push_one.resources);
    assert_eq!(response.removed_resources, push_one.removed_resources);
    assert_eq!(
        response.message.system_version_info,
        push_one.message.system_version_info
    );
    assert_eq!(response.message.system_version_info, newer.version());
}

fn sotw_request(names: &[&str], version: &str, nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: "sidecar~198.18.0.6~ratings-v1.bookinfo~bookinfo.svc.cluster.local".into(),
            ..Node::default()
        }),
        type_url: EDS.type_url().into(),
        resource_names: names.iter().map(|n| format!("list-tests|{n}")).collect(),
        version_info: version.into(),
        response_nonce: nonce.into(),
        ..DiscoveryRequest::default()
    }
}

/// A state-of-the-world stream that subscribed to every resource of a list is served the list
/// itself: its response version is the list's, and a push sends what changed since.
#[test]
fn a_sotw_stream_that_names_the_whole_list_is_served_the_list() {
    let older = ResourceList::new(assignments(&[("a", 0), ("b", 0)]));
    let newer = ResourceList::new(assignments(&[("a", 0), ("b", 1)]));
    let mut connection = SotwConnection::new();
    let first = connection.on_request(&sotw_request(&["b", "a"], "", ""));
    assert_eq!(first, Ok(Action::Respond));
    let response = connection.respond(EDS, older.clone(), true).unwrap();
    assert_eq!(response.message.version_info, older.version());
    assert_eq!(names(&response.resources), ["a", "b"]);
    let ack = sotw_request(&["a", "b"], older.version(), "1");
    assert_eq!(connection.on_request(&ack), Ok(Action::Ack));
    let push = connection.respond(EDS, newer.clone(), false).unwrap();
    assert_eq!(push.message.version_info, newer.version());
    assert_eq!(names(&push.resources), ["b"]);
    assert!(Arc::ptr_eq(&push.resources[0], &newer[1]));
}
