//! The ADS client against an in-process fake control plane, in both protocol variants: ACKs,
//! NACKs that keep the last good configuration serving, named subscriptions that follow the
//! clusters and listeners, and reconnection that resends what the proxy holds.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use mesh_common::xds;
use mesh_proxy::{
    config::{ConfigStore, Snapshot},
    upstream::{UpstreamError, select_endpoint},
    xds_client::XdsClient,
};
use mesh_testing::eventually;
use mesh_xds::resource::ResourceType;
use rand::{SeedableRng, rngs::SmallRng};

mod ads_support;

use self::ads_support::{
    Control, ads, any, assignment, delta, eds_cluster, node, rds_listener, route, sotw, within,
};

// === Resources ===

/// The NACK text for the refused route configuration.
const BAD_ROUTE_ERROR: &str = "RouteConfiguration \"80\": virtual_hosts[0].routes[0].match.safe_regex: regex \"a(b\" does not compile: unclosed group";

/// `(type, version, names, nonce, error)` of a state-of-the-world request.
#[allow(clippy::type_complexity)] // A tuple reads best in the assertions that compare it.
fn summary(r: &DiscoveryRequest) -> (&str, &str, Vec<&str>, &str, Option<(i32, &str)>) {
    (
        xds::short_name(&r.type_url),
        r.version_info.as_str(),
        r.resource_names.iter().map(String::as_str).collect(),
        r.response_nonce.as_str(),
        r.error_detail
            .as_ref()
            .map(|e| (e.code, e.message.as_str())),
    )
}

fn warming(store: &ConfigStore, cluster: &str) -> Result<(), UpstreamError> {
    let mut rng = SmallRng::seed_from_u64(1);
    select_endpoint(&store.load(), cluster, None, &mut rng).map(|_| ())
}

// === Tests ===

#[tokio::test]
async fn sotw_acks_nacks_follows_and_reconnects() {
    let mut control = Control::start("127.0.0.1:0".parse().unwrap()).await;
    let store = Arc::new(ConfigStore::new(Snapshot::default()));
    let client = XdsClient::spawn(ads(control.address), node(), Arc::clone(&store), false);
    let state = client.state();
    let mut stream = control.sotw_stream().await;

    let first = stream.next().await;
    assert_eq!(first.node.as_ref().unwrap().id, node().id);
    assert_eq!(summary(&first), ("Cluster", "", vec![], "", None));
    assert_eq!(
        summary(&stream.next().await),
        ("Listener", "", vec![], "", None)
    );

    // CDS, then the EDS subscription it implies; the cluster warms until its endpoints come.
    stream.send(sotw(
        ResourceType::Cluster,
        "c1",
        "n1",
        vec![any(eds_cluster("outbound|80||a", "a"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Cluster", "c1", vec![], "n1", None)
    );
    assert_eq!(
        summary(&stream.next().await),
        ("ClusterLoadAssignment", "", vec!["a"], "", None)
    );
    assert_eq!(
        warming(&store, "outbound|80||a"),
        Err(UpstreamError::NoHealthyUpstream(
            "outbound|80||a".to_owned()
        ))
    );
    assert!(!state.is_synced(), "no listeners yet");
    stream.send(sotw(
        ResourceType::ClusterLoadAssignment,
        "e1",
        "n2",
        vec![any(assignment("a", "10.0.0.1"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("ClusterLoadAssignment", "e1", vec!["a"], "n2", None)
    );
    assert_eq!(warming(&store, "outbound|80||a"), Ok(()));

    // LDS, then RDS by name; a listener's routes are missing until RDS answers.
    stream.send(sotw(
        ResourceType::Listener,
        "l1",
        "n3",
        vec![any(rds_listener("0.0.0.0_80", "80"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Listener", "l1", vec![], "n3", None)
    );
    assert_eq!(
        summary(&stream.next().await),
        ("RouteConfiguration", "", vec!["80"], "", None)
    );
    within(state.synced()).await;
    assert!(store.load().listeners.contains_key("0.0.0.0_80"));
    assert!(!store.load().routes.contains_key("80"));
    stream.send(sotw(
        ResourceType::RouteConfiguration,
        "r1",
        "n4",
        vec![any(route("80", "/a"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("RouteConfiguration", "r1", vec!["80"], "n4", None)
    );
    let good = Arc::clone(&store.load().routes["80"]);

    // A regex that does not compile: NACKed with the previous version, and the table stays.
    stream.send(sotw(
        ResourceType::RouteConfiguration,
        "r2",
        "n5",
        vec![any(route("80", "a(b"))],
    ));
    let nack = stream.next().await;
    let (kind, version, names, nonce, error) = summary(&nack);
    assert_eq!(
        (kind, version, names, nonce),
        ("RouteConfiguration", "r1", vec!["80"], "n5")
    );
    let (code, message) = error.expect("a NACK");
    assert_eq!(code, 3);
    assert_eq!(message, BAD_ROUTE_ERROR);
    assert!(Arc::ptr_eq(&good, &store.load().routes["80"]));
    let status = state.load();
    let routes = &status.types[&ResourceType::RouteConfiguration];
    assert_eq!(routes.version, "r1");
    assert_eq!(routes.last_error.as_deref(), Some(message));
    assert!(status.connected);
    assert!(state.is_synced());

    // The server goes away: the proxy keeps serving, then reconnects with what it holds.
    drop(stream);
    let address = control.stop();
    eventually(|| async { (!state.load().connected).then_some(()) })
        .await
        .unwrap();
    assert_eq!(warming(&store, "outbound|80||a"), Ok(()));
    let mut control = Control::start(address).await;
    let mut stream = control.sotw_stream().await;
    let mut resent: Vec<_> = Vec::new();
    for _ in 0..4 {
        let request = stream.next().await;
        resent.push((
            xds::short_name(&request.type_url).to_owned(),
            request.version_info.clone(),
            request.resource_names.clone(),
        ));
    }
    assert_eq!(
        resent,
        [
            ("Cluster".to_owned(), "c1".to_owned(), vec![]),
            ("Listener".to_owned(), "l1".to_owned(), vec![]),
            (
                "ClusterLoadAssignment".to_owned(),
                "e1".to_owned(),
                vec!["a".to_owned()]
            ),
            (
                "RouteConfiguration".to_owned(),
                "r1".to_owned(),
                vec!["80".to_owned()]
            ),
        ]
    );

    // The full set without the cluster removes it and its endpoints, and unsubscribes EDS.
    stream.send(sotw(ResourceType::Cluster, "c2", "m1", vec![]));
    assert_eq!(
        summary(&stream.next().await),
        ("Cluster", "c2", vec![], "m1", None)
    );
    assert_eq!(
        summary(&stream.next().await),
        ("ClusterLoadAssignment", "e1", vec![], "", None)
    );
    assert_eq!(
        warming(&store, "outbound|80||a"),
        Err(UpstreamError::NoCluster("outbound|80||a".to_owned()))
    );
    assert!(!store.load().endpoints.contains_key("outbound|80||a"));
}

#[tokio::test]
async fn delta_acks_nacks_removes_and_reconnects() {
    let mut control = Control::start("127.0.0.1:0".parse().unwrap()).await;
    let store = Arc::new(ConfigStore::new(Snapshot::default()));
    let client = XdsClient::spawn(ads(control.address), node(), Arc::clone(&store), true);
    let state = client.state();
    let mut stream = control.delta_stream().await;
    for kind in ["Cluster", "Listener"] {
        let request = stream.next().await;
        assert_eq!(xds::short_name(&request.type_url), kind);
        assert_eq!(request.node.as_ref().unwrap().id, node().id);
        assert!(request.resource_names_subscribe.is_empty(), "wildcard");
        assert!(request.initial_resource_versions.is_empty());
    }

    stream.send(delta(
        ResourceType::Cluster,
        "d1",
        vec![
            (
                "outbound|80||a",
                "ca1",
                any(eds_cluster("outbound|80||a", "a")),
            ),
            (
                "outbound|80||b",
                "cb1",
                any(eds_cluster("outbound|80||b", "b")),
            ),
        ],
        &[],
    ));
    let ack = stream.next().await;
    assert_eq!(
        (ack.response_nonce.as_str(), ack.error_detail),
        ("d1", None)
    );
    let subscribe = stream.next().await;
    assert_eq!(
        xds::short_name(&subscribe.type_url),
        "ClusterLoadAssignment"
    );
    assert_eq!(subscribe.resource_names_subscribe, ["a", "b"]);
    stream.send(delta(
        ResourceType::ClusterLoadAssignment,
        "d2",
        vec![("a", "ea1", any(assignment("a", "10.0.0.1")))],
        &[],
    ));
    assert_eq!(stream.next().await.response_nonce, "d2");
    assert_eq!(warming(&store, "outbound|80||a"), Ok(()));

    // One bad cluster refuses the whole response.
    let mut bad = eds_cluster("outbound|80||c", "c");
    bad.lb_policy = 7; // LOAD_BALANCING_POLICY_CONFIG
    stream.send(delta(
        ResourceType::Cluster,
        "d3",
        vec![
            (
                "outbound|80||b",
                "cb2",
                any(eds_cluster("outbound|80||b", "b2")),
            ),
            ("outbound|80||c", "cc1", any(bad)),
        ],
        &[],
    ));
    let nack = stream.next().await;
    assert_eq!(nack.response_nonce, "d3");
    let error = nack.error_detail.expect("a NACK");
    assert_eq!(
        (error.code, error.message.as_str()),
        (
            3,
            "Cluster \"outbound|80||c\": lb_policy: not supported by mesh-proxy"
        )
    );
    let snapshot = store.load();
    assert!(!snapshot.clusters.contains_key("outbound|80||c"));
    assert_eq!(
        format!("{:?}", snapshot.clusters["outbound|80||b"].discovery),
        "Eds { service_name: \"b\" }"
    );

    // Reconnection tells the server what the proxy holds.
    drop(stream);
    let address = control.stop();
    eventually(|| async { (!state.load().connected).then_some(()) })
        .await
        .unwrap();
    let mut control = Control::start(address).await;
    let mut stream = control.delta_stream().await;
    let cds = stream.next().await;
    assert_eq!(xds::short_name(&cds.type_url), "Cluster");
    let mut held: Vec<(String, String)> = cds.initial_resource_versions.into_iter().collect();
    held.sort();
    assert_eq!(
        held,
        [
            ("outbound|80||a".to_owned(), "ca1".to_owned()),
            ("outbound|80||b".to_owned(), "cb1".to_owned()),
        ]
    );
    assert_eq!(xds::short_name(&stream.next().await.type_url), "Listener");
    let eds = stream.next().await;
    assert_eq!(xds::short_name(&eds.type_url), "ClusterLoadAssignment");
    assert_eq!(eds.resource_names_subscribe, ["a", "b"]);
    let held: Vec<(String, String)> = eds.initial_resource_versions.into_iter().collect();
    assert_eq!(held, [("a".to_owned(), "ea1".to_owned())]);

    // A removal takes the cluster and its endpoints, and unsubscribes its assignment.
    stream.send(delta(
        ResourceType::Cluster,
        "e1",
        vec![],
        &["outbound|80||a"],
    ));
    assert_eq!(stream.next().await.response_nonce, "e1");
    let unsubscribe = stream.next().await;
    assert_eq!(unsubscribe.resource_names_unsubscribe, ["a"]);
    assert!(unsubscribe.resource_names_subscribe.is_empty());
    assert_eq!(
        warming(&store, "outbound|80||a"),
        Err(UpstreamError::NoCluster("outbound|80||a".to_owned()))
    );
    assert!(!store.load().endpoints.contains_key("outbound|80||a"));
    // The ACK is sent after the state records the response.
    let status = state.load();
    assert!(status.connected);
    let clusters = &status.types[&ResourceType::Cluster];
    assert_eq!(clusters.version, "sys-e1");
    assert_eq!(clusters.last_error, None);
    assert_eq!(
        clusters.resources.keys().collect::<Vec<_>>(),
        ["outbound|80||b"]
    );
}
