use std::collections::BTreeSet;

use envoy_types::pb::{
    envoy::config::{
        cluster::v3::Cluster,
        core::v3::Node,
        endpoint::v3::{ClusterLoadAssignment, LocalityLbEndpoints},
    },
    google::rpc,
};
use pretty_assertions::assert_eq;

use super::*;
use mesh_xds::Resource;

fn node() -> Node {
    Node {
        id: "sidecar~198.18.0.5~reviews-v1.bookinfo~bookinfo.svc.cluster.local".into(),
        ..Node::default()
    }
}

fn request(kind: ResourceType, names: &[&str], nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(node()),
        type_url: kind.type_url().into(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        response_nonce: nonce.into(),
        ..DiscoveryRequest::default()
    }
}

fn nack(kind: ResourceType, nonce: &str, message: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        error_detail: Some(rpc::Status {
            code: 3,
            message: message.into(),
            details: vec![],
        }),
        ..request(kind, &[], nonce)
    }
}

fn clusters(names: &[&str]) -> Vec<Arc<Encoded>> {
    names
        .iter()
        .map(|name| {
            Encoded::new(Resource::from(Cluster {
                name: name.to_string(),
                ..Cluster::default()
            }))
        })
        .collect()
}

fn endpoints(names: &[&str]) -> Vec<Arc<Encoded>> {
    names
        .iter()
        .map(|name| {
            Encoded::new(Resource::from(ClusterLoadAssignment {
                cluster_name: name.to_string(),
                ..ClusterLoadAssignment::default()
            }))
        })
        .collect()
}

fn names(response: &Outgoing<DiscoveryResponse>) -> Vec<String> {
    response
        .clone()
        .into_message()
        .resources
        .iter()
        .map(|any| Resource::decode_any(any).unwrap().name().to_string())
        .collect()
}

const CDS: ResourceType = ResourceType::Cluster;
const EDS: ResourceType = ResourceType::ClusterLoadAssignment;

#[test]
fn the_first_request_needs_a_node() {
    let mut connection = SotwConnection::new();
    let request = DiscoveryRequest {
        node: None,
        ..request(CDS, &[], "")
    };
    assert_eq!(
        connection.on_request(&request),
        Err(ProtocolError::MissingNode)
    );
}

#[test]
fn ack_records_the_version() {
    let mut connection = SotwConnection::new();
    assert_eq!(
        connection.on_request(&request(CDS, &[], "")),
        Ok(Action::Respond)
    );
    assert_eq!(
        connection.state().subscription(CDS),
        Some(Subscription::Wildcard)
    );
    let response = connection
        .respond(CDS, clusters(&["a", "b"]), true)
        .unwrap();
    assert_eq!(names(&response), ["a", "b"]);
    assert_eq!(response.nonce, "1");
    assert_eq!(response.type_url, CDS.type_url());

    let ack = DiscoveryRequest {
        version_info: response.version_info.clone(),
        ..request(CDS, &[], "1")
    };
    assert_eq!(connection.on_request(&ack), Ok(Action::Ack));
    let progress = connection.state().progress(CDS).unwrap();
    assert_eq!(progress.version_acked, Some(response.version_info.clone()));
    assert_eq!(progress.version_sent, Some(response.version_info.clone()));
    assert_eq!(progress.last_nack, None);
}

#[test]
fn unchanged_content_is_not_pushed_but_a_change_is() {
    let mut connection = SotwConnection::new();
    connection.on_request(&request(CDS, &[], "")).unwrap();
    let first = connection.respond(CDS, clusters(&["a"]), true).unwrap();
    assert_eq!(connection.respond(CDS, clusters(&["a"]), false), None);
    let second = connection
        .respond(CDS, clusters(&["a", "b"]), false)
        .unwrap();
    assert_eq!(second.nonce, "2");
    assert_ne!(second.version_info, first.version_info);
}

#[test]
fn nack_keeps_the_last_good_version_and_the_bad_config_is_not_resent() {
    let mut connection = SotwConnection::new();
    connection.on_request(&request(CDS, &[], "")).unwrap();
    let good = connection.respond(CDS, clusters(&["a"]), true).unwrap();
    connection.on_request(&request(CDS, &[], "1")).unwrap();
    let bad = connection
        .respond(CDS, clusters(&["a", "bad"]), false)
        .unwrap();

    assert_eq!(
        connection.on_request(&nack(CDS, &bad.nonce, "cluster bad: no endpoints")),
        Ok(Action::Nack("cluster bad: no endpoints".into()))
    );
    let progress = connection.state().progress(CDS).unwrap();
    assert_eq!(progress.version_acked, Some(good.version_info.clone()));
    assert_eq!(progress.version_sent, Some(bad.version_info.clone()));
    assert_eq!(
        progress.last_nack.as_deref(),
        Some("cluster bad: no endpoints")
    );

    // A config change that leaves the bad content as it was sends nothing.
    assert_eq!(
        connection.respond(CDS, clusters(&["a", "bad"]), false),
        None
    );
    // The fix is sent, and its ACK clears the error.
    let fixed = connection.respond(CDS, clusters(&["a"]), false).unwrap();
    assert_eq!(
        connection.on_request(&request(CDS, &[], &fixed.nonce)),
        Ok(Action::Ack)
    );
    assert_eq!(connection.state().progress(CDS).unwrap().last_nack, None);
}

#[test]
fn a_stale_nonce_is_ignored() {
    let mut connection = SotwConnection::new();
    connection.on_request(&request(CDS, &[], "")).unwrap();
    connection.respond(CDS, clusters(&["a"]), true).unwrap();
    let latest = connection.respond(CDS, clusters(&["b"]), false).unwrap();
    assert_eq!(
        connection.on_request(&nack(CDS, "1", "old news")),
        Ok(Action::Ignore(IgnoreReason::StaleNonce))
    );
    let progress = connection.state().progress(CDS).unwrap();
    assert_eq!(progress.last_nack, None);
    assert_eq!(progress.version_acked, None);
    assert_eq!(progress.nonce, Some(latest.nonce.clone()));
}

#[test]
fn named_subscriptions_are_sets_and_changing_them_responds() {
    let mut connection = SotwConnection::new();
    assert_eq!(
        connection.on_request(&request(EDS, &[], "")),
        Ok(Action::Respond)
    );
    // Endpoints with no names are no endpoints, not all of them.
    assert_eq!(
        connection.state().subscription(EDS),
        Some(Subscription::Names(BTreeSet::new()))
    );
    let empty = connection
        .respond(EDS, endpoints(&["a", "b"]), true)
        .unwrap();
    assert_eq!(names(&empty), Vec::<String>::new());

    // New names in an ACK: respond with just those.
    assert_eq!(
        connection.on_request(&request(EDS, &["b", "a"], "1")),
        Ok(Action::Respond)
    );
    let named = connection
        .respond(EDS, endpoints(&["a", "b", "c"]), true)
        .unwrap();
    assert_eq!(names(&named), ["a", "b"]);
    // The same names in another order is a plain ACK.
    assert_eq!(
        connection.on_request(&request(EDS, &["a", "b"], &named.nonce)),
        Ok(Action::Ack)
    );
    // `*` asks for everything.
    connection.on_request(&request(CDS, &["*"], "")).unwrap();
    assert_eq!(
        connection.state().subscription(CDS),
        Some(Subscription::Wildcard)
    );
    assert_eq!(connection.state().subscribed(), [CDS, EDS]);
}

#[test]
fn unsupported_types_and_unrequested_types() {
    let mut connection = SotwConnection::new();
    let request = DiscoveryRequest {
        type_url: "type.googleapis.com/envoy.service.runtime.v3.Runtime".into(),
        ..request(CDS, &[], "")
    };
    assert_eq!(
        connection.on_request(&request),
        Ok(Action::Ignore(IgnoreReason::UnsupportedType))
    );
    assert_eq!(connection.respond(CDS, clusters(&["a"]), true), None);
}

#[test]
fn a_reconnecting_proxy_gets_a_full_response() {
    let mut connection = SotwConnection::new();
    // The version and nonce come from the previous stream.
    let request = DiscoveryRequest {
        version_info: "0123456789abcdef".into(),
        ..request(CDS, &[], "7")
    };
    assert_eq!(connection.on_request(&request), Ok(Action::Respond));
    let response = connection.respond(CDS, clusters(&["a"]), true).unwrap();
    assert_eq!(names(&response), ["a"]);
}

/// Load assignments of `names`, each at `generation` (its content differs per generation).
fn assignments(names: &[(&str, u32)]) -> Vec<Arc<Encoded>> {
    names
        .iter()
        .map(|(name, generation)| {
            Encoded::new(Resource::from(ClusterLoadAssignment {
                cluster_name: name.to_string(),
                endpoints: vec![LocalityLbEndpoints {
                    priority: *generation,
                    ..LocalityLbEndpoints::default()
                }],
                ..ClusterLoadAssignment::default()
            }))
        })
        .collect()
}

#[test]
fn a_push_of_endpoints_carries_only_the_changed_load_assignments() {
    let mut connection = SotwConnection::new();
    connection
        .on_request(&request(EDS, &["a", "b", "c"], ""))
        .unwrap();
    let first = connection
        .respond(EDS, assignments(&[("a", 0), ("b", 0), ("c", 0)]), true)
        .unwrap();
    assert_eq!(names(&first), ["a", "b", "c"]);
    assert_eq!(
        connection.on_request(&request(EDS, &["a", "b", "c"], "1")),
        Ok(Action::Ack)
    );

    // One endpoint change: one load assignment, under the version of all three.
    let changed = assignments(&[("a", 0), ("b", 1), ("c", 0)]);
    let version = hash::response_version(changed.iter().map(|r| (r.name(), r.version())));
    let push = connection.respond(EDS, changed.clone(), false).unwrap();
    assert_eq!(names(&push), ["b"]);
    assert_eq!(push.nonce, "2");
    assert_eq!(push.version_info, version);
    assert_eq!(connection.respond(EDS, changed, false), None);

    // A load assignment that went away: an empty response moves the version on. One that
    // comes back changed is sent.
    let gone = connection
        .respond(EDS, assignments(&[("a", 0), ("b", 1)]), false)
        .unwrap();
    assert_eq!(names(&gone), Vec::<String>::new());
    assert_eq!(gone.nonce, "3");
    let back = connection
        .respond(EDS, assignments(&[("a", 0), ("b", 1), ("c", 1)]), false)
        .unwrap();
    assert_eq!(names(&back), ["c"]);
    assert_eq!(back.nonce, "4");

    // A new subscription is answered with every name, changed or not.
    assert_eq!(
        connection.on_request(&request(EDS, &["a", "b", "c", "d"], "4")),
        Ok(Action::Respond)
    );
    let all = connection
        .respond(
            EDS,
            assignments(&[("a", 0), ("b", 1), ("c", 1), ("d", 0)]),
            true,
        )
        .unwrap();
    assert_eq!(names(&all), ["a", "b", "c", "d"]);
}

#[test]
fn a_nacked_load_assignment_is_not_resent_but_its_fix_is() {
    let mut connection = SotwConnection::new();
    connection
        .on_request(&request(EDS, &["a", "b"], ""))
        .unwrap();
    connection
        .respond(EDS, assignments(&[("a", 0), ("b", 0)]), true)
        .unwrap();
    connection
        .on_request(&request(EDS, &["a", "b"], "1"))
        .unwrap();
    let bad = connection
        .respond(EDS, assignments(&[("a", 0), ("b", 1)]), false)
        .unwrap();
    assert_eq!(names(&bad), ["b"]);
    let nack = DiscoveryRequest {
        resource_names: vec!["a".into(), "b".into()],
        ..nack(EDS, &bad.nonce, "b: bad priority")
    };
    assert_eq!(
        connection.on_request(&nack),
        Ok(Action::Nack("b: bad priority".into()))
    );
    assert_eq!(
        connection.respond(EDS, assignments(&[("a", 0), ("b", 1)]), false),
        None
    );
    let fixed = connection
        .respond(EDS, assignments(&[("a", 0), ("b", 2)]), false)
        .unwrap();
    assert_eq!(names(&fixed), ["b"]);
}

#[test]
fn a_push_of_clusters_carries_every_cluster() {
    let mut connection = SotwConnection::new();
    connection.on_request(&request(CDS, &[], "")).unwrap();
    connection
        .respond(CDS, clusters(&["a", "b"]), true)
        .unwrap();
    connection.on_request(&request(CDS, &[], "1")).unwrap();
    let push = connection
        .respond(CDS, clusters(&["a", "b", "c"]), false)
        .unwrap();
    assert_eq!(names(&push), ["a", "b", "c"]);
}

#[test]
fn subscribed_names_are_the_encodings_own_strings() {
    let eds = ResourceType::ClusterLoadAssignment;
    let encoded = endpoints(&["outbound|80||a", "outbound|80||b"]);
    let (mut one, mut two) = (SotwConnection::new(), SotwConnection::new());
    for connection in [&mut one, &mut two] {
        let asked = request(eds, &["outbound|80||b", "outbound|80||a"], "");
        assert_eq!(connection.on_request(&asked).unwrap(), Action::Respond);
    }
    let names = |c: &mut SotwConnection| -> Vec<Arc<str>> {
        c.state.types()[&eds]
            .subscription
            .names
            .iter()
            .cloned()
            .collect()
    };
    let (a, b) = (names(&mut one), names(&mut two));
    assert_eq!(a.len(), 2);
    // One string per name in the process: both streams and the encoding point at it.
    for ((x, y), encoded) in a.iter().zip(&b).zip(&encoded) {
        assert!(Arc::ptr_eq(x, y));
        assert_eq!(x.as_ptr(), encoded.name().as_ptr());
    }
}
