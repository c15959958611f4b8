use std::collections::HashMap;

use envoy_types::pb::{
    envoy::config::{cluster::v3::Cluster, core::v3::Node},
    google::rpc,
};
use pretty_assertions::assert_eq;

use super::*;
use mesh_xds::Resource;

const CDS: ResourceType = ResourceType::Cluster;

fn request(subscribe: &[&str], unsubscribe: &[&str], nonce: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        node: Some(Node {
            id: "sidecar~198.18.0.5~ratings-v1.bookinfo~bookinfo.svc.cluster.local".into(),
            ..Node::default()
        }),
        type_url: CDS.type_url().into(),
        resource_names_subscribe: subscribe.iter().map(|n| n.to_string()).collect(),
        resource_names_unsubscribe: unsubscribe.iter().map(|n| n.to_string()).collect(),
        response_nonce: nonce.into(),
        ..DeltaDiscoveryRequest::default()
    }
}

/// Clusters whose content (and so version) varies with `generation`.
fn clusters(names: &[&str], generation: u32) -> Vec<Arc<Encoded>> {
    names
        .iter()
        .map(|name| {
            Encoded::new(Resource::from(Cluster {
                name: name.to_string(),
                alt_stat_name: format!("generation-{generation}"),
                ..Cluster::default()
            }))
        })
        .collect()
}

fn sent(response: &Outgoing<DeltaDiscoveryResponse>) -> Vec<&str> {
    response.resources.iter().map(|r| r.name()).collect()
}

fn version(name: &str, generation: u32) -> String {
    clusters(&[name], generation).remove(0).version().to_owned()
}

#[test]
fn wildcard_sends_only_changes_and_removals() {
    let mut connection = DeltaConnection::new();
    assert_eq!(
        connection.on_request(&request(&[], &[], "")),
        Ok(Action::Respond)
    );
    assert_eq!(
        connection.state().subscription(CDS),
        Some(Subscription::Wildcard)
    );
    let first = connection
        .respond(CDS, clusters(&["a", "b"], 1), true)
        .unwrap();
    assert_eq!(sent(&first), ["a", "b"]);
    assert_eq!(first.resources[0].version(), version("a", 1));
    assert!(first.removed_resources.is_empty());
    assert_eq!(
        connection.on_request(&request(&[], &[], "1")),
        Ok(Action::Ack)
    );

    let mut next = clusters(&["a"], 2);
    next.extend(clusters(&["c"], 1));
    let second = connection.respond(CDS, next.clone(), false).unwrap();
    assert_eq!(sent(&second), ["a", "c"]);
    assert_eq!(second.removed_resources, ["b"]);
    assert_eq!(second.nonce, "2");
    assert_eq!(connection.respond(CDS, next, false), None);
}

#[test]
fn named_subscribe_and_unsubscribe() {
    let mut connection = DeltaConnection::new();
    assert_eq!(
        connection.on_request(&request(&["a"], &[], "")),
        Ok(Action::Respond)
    );
    let first = connection
        .respond(CDS, clusters(&["a", "b"], 1), true)
        .unwrap();
    assert_eq!(sent(&first), ["a"]);

    // Subscribing to one that does not exist answers it as removed.
    assert_eq!(
        connection.on_request(&request(&["b", "missing"], &[], "1")),
        Ok(Action::Respond)
    );
    let second = connection
        .respond(CDS, clusters(&["a", "b"], 1), true)
        .unwrap();
    assert_eq!(sent(&second), ["b"]);
    assert_eq!(second.removed_resources, ["missing"]);

    // Unsubscribing needs no response, and the name is not reported removed later.
    assert_eq!(
        connection.on_request(&request(&[], &["a"], "2")),
        Ok(Action::Ack)
    );
    assert_eq!(
        connection.state().subscription(CDS),
        Some(Subscription::Names(
            ["b", "missing"].map(String::from).into()
        ))
    );
    assert_eq!(connection.respond(CDS, clusters(&["b"], 1), false), None);
    // Subscribing again to a name already subscribed is no news: a plain ACK.
    assert_eq!(
        connection.on_request(&request(&["b"], &[], "2")),
        Ok(Action::Ack)
    );
}

#[test]
fn subscription_changes_apply_even_with_a_stale_nonce() {
    let mut connection = DeltaConnection::new();
    connection.on_request(&request(&["a"], &[], "")).unwrap();
    connection.respond(CDS, clusters(&["a"], 1), true).unwrap();
    connection.respond(CDS, clusters(&["a"], 2), false).unwrap();
    // Nonce 1 is stale, but the new name must not be lost.
    assert_eq!(
        connection.on_request(&request(&["b"], &[], "1")),
        Ok(Action::Respond)
    );
    // A stale nonce with nothing new is ignored.
    assert_eq!(
        connection.on_request(&request(&[], &[], "1")),
        Ok(Action::Ignore(IgnoreReason::StaleNonce))
    );
    assert_eq!(
        connection.state().progress(CDS).unwrap().version_acked,
        None
    );
}

#[test]
fn nack_keeps_the_last_good_version_and_is_not_resent() {
    let mut connection = DeltaConnection::new();
    connection.on_request(&request(&[], &[], "")).unwrap();
    let good = connection.respond(CDS, clusters(&["a"], 1), true).unwrap();
    connection.on_request(&request(&[], &[], "1")).unwrap();
    let bad = connection.respond(CDS, clusters(&["a"], 2), false).unwrap();
    let nack = DeltaDiscoveryRequest {
        error_detail: Some(rpc::Status {
            code: 3,
            message: "bad cluster a".into(),
            details: vec![],
        }),
        ..request(&[], &[], &bad.nonce)
    };
    assert_eq!(
        connection.on_request(&nack),
        Ok(Action::Nack("bad cluster a".into()))
    );
    let progress = connection.state().progress(CDS).unwrap();
    assert_eq!(
        progress.version_acked,
        Some(good.system_version_info.clone())
    );
    assert_eq!(progress.last_nack.as_deref(), Some("bad cluster a"));
    assert_eq!(connection.respond(CDS, clusters(&["a"], 2), false), None);
    let fixed = connection.respond(CDS, clusters(&["a"], 3), false).unwrap();
    assert_eq!(sent(&fixed), ["a"]);
}

#[test]
fn a_reconnect_with_initial_versions_gets_only_what_differs() {
    let mut connection = DeltaConnection::new();
    let reconnect = DeltaDiscoveryRequest {
        initial_resource_versions: HashMap::from([
            ("a".to_string(), version("a", 1)),
            ("b".to_string(), version("b", 1)),
            ("gone".to_string(), "0000000000000000".to_string()),
        ]),
        ..request(&["*"], &[], "")
    };
    assert_eq!(connection.on_request(&reconnect), Ok(Action::Respond));
    assert_eq!(
        connection.state().subscription(CDS),
        Some(Subscription::Wildcard)
    );
    let mut current = clusters(&["a"], 1);
    current.extend(clusters(&["b"], 2));
    let response = connection.respond(CDS, current, true).unwrap();
    assert_eq!(sent(&response), ["b"]);
    assert_eq!(response.removed_resources, ["gone"]);
}

#[test]
fn a_first_response_is_sent_even_when_empty() {
    let mut connection = DeltaConnection::new();
    connection.on_request(&request(&[], &[], "")).unwrap();
    let response = connection.respond(CDS, vec![], true).unwrap();
    assert!(response.resources.is_empty());
    assert!(response.removed_resources.is_empty());
    assert_eq!(connection.state().subscribed(), [CDS]);
}

#[test]
fn subscribed_names_are_the_encodings_own_strings() {
    let encoded = clusters(&["a", "b"], 1);
    let (mut one, mut two) = (DeltaConnection::new(), DeltaConnection::new());
    for connection in [&mut one, &mut two] {
        assert_eq!(
            connection
                .on_request(&request(&["b", "a"], &[], ""))
                .unwrap(),
            Action::Respond
        );
    }
    let kind = ResourceType::Cluster;
    let names = |c: &mut DeltaConnection| -> Vec<Arc<str>> {
        c.state.types()[&kind].names.iter().cloned().collect()
    };
    let (a, b) = (names(&mut one), names(&mut two));
    assert_eq!(a.len(), 2);
    // One string per name in the process: both streams and the encoding point at it.
    for ((x, y), encoded) in a.iter().zip(&b).zip(&encoded) {
        assert!(Arc::ptr_eq(x, y));
        assert_eq!(x.as_ptr(), encoded.name().as_ptr());
    }
}
