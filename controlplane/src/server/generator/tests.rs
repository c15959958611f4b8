use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use mesh_common::well_known::node_metadata;

use super::*;
use crate::{mesh_config::MeshConfig, server::fixtures::snapshot};

mod inbound;
mod kept;
mod shared;

const BOOKINFO: &str = include_str!("../../../tests/data/bookinfo.yaml");
const PRODUCTPAGE: &str =
    "sidecar~198.18.0.41~productpage-v1-58b4.default~default.svc.cluster.local";

fn node(id: &str) -> Node {
    let string = |s: &str| Value {
        kind: Some(Kind::StringValue(s.to_string())),
    };
    Node {
        id: id.to_string(),
        metadata: Some(Struct {
            fields: [(node_metadata::NAMESPACE.to_string(), string("default"))].into(),
        }),
        ..Node::default()
    }
}

/// `node` with `labels` as its workload's labels.
fn with_labels(mut node: Node, labels: &[(&str, &str)]) -> Node {
    let labels = Struct {
        fields: labels
            .iter()
            .map(|(k, v)| (k.to_string(), translate::string_value(v)))
            .collect(),
    };
    if let Some(metadata) = node.metadata.as_mut() {
        metadata.fields.insert(
            node_metadata::LABELS.to_string(),
            Value {
                kind: Some(Kind::StructValue(labels)),
            },
        );
    }
    node
}

fn names(resources: &[Arc<Encoded>]) -> Vec<&str> {
    resources.iter().map(|r| r.name()).collect()
}

fn generator(yaml: &str) -> (watch::Sender<Arc<Snapshot>>, ModelGenerator) {
    generator_from(snapshot(yaml))
}

/// A generator serving `first` until the sender publishes another snapshot.
fn generator_from(first: Arc<Snapshot>) -> (watch::Sender<Arc<Snapshot>>, ModelGenerator) {
    let (snapshots, rx) = watch::channel(first);
    (snapshots, ModelGenerator::new(rx, Arc::new(Metrics::new())))
}

#[test]
fn serves_a_sidecar_its_translation_one_type_at_a_time() {
    let (_snapshots, generator) = generator(BOOKINFO);
    let node = node(PRODUCTPAGE);
    let clusters = generator
        .generate(&node, ResourceType::Cluster, &Subscription::Wildcard)
        .unwrap();
    assert_eq!(
        names(&clusters),
        [
            "BlackHoleCluster",
            "PassthroughCluster",
            "inbound|9080||",
            "outbound|27017||mongodb.default.svc.cluster.local",
            "outbound|9080||details.default.svc.cluster.local",
            "outbound|9080||productpage.default.svc.cluster.local",
            "outbound|9080||ratings.default.svc.cluster.local",
            "outbound|9080||reviews.default.svc.cluster.local",
        ]
    );
    let wanted = Subscription::Names(
        [
            "outbound|9080||ratings.default.svc.cluster.local".to_string(),
            "not-a-cluster".to_string(),
        ]
        .into(),
    );
    let endpoints = generator
        .generate(&node, ResourceType::ClusterLoadAssignment, &wanted)
        .unwrap();
    assert_eq!(
        names(&endpoints),
        ["outbound|9080||ratings.default.svc.cluster.local"]
    );
    let routes = Subscription::Names(["9080".to_string()].into());
    let routes = generator
        .generate(&node, ResourceType::RouteConfiguration, &routes)
        .unwrap();
    assert_eq!(names(&routes), ["9080"]);
    let listeners = generator
        .generate(&node, ResourceType::Listener, &Subscription::Wildcard)
        .unwrap();
    assert_eq!(
        names(&listeners),
        [
            "0.0.0.0_27017",
            "0.0.0.0_9080",
            "virtualInbound",
            "virtualOutbound"
        ]
    );
    let secrets = generator
        .generate(&node, ResourceType::Secret, &Subscription::Wildcard)
        .unwrap();
    assert!(secrets.is_empty());
}

#[test]
fn translates_once_per_proxy_and_snapshot() {
    let (snapshots, generator) = generator(BOOKINFO);
    let node = node(PRODUCTPAGE);
    let first = generator.translate(&node).unwrap();
    let again = generator.translate(&node).unwrap();
    assert!(first.shares_parts_with(&again));

    // Other metadata for the same id is another proxy: translated anew.
    let mut relabelled = node.clone();
    if let Some(metadata) = relabelled.metadata.as_mut() {
        metadata.fields.insert(
            node_metadata::WORKLOAD_NAME.to_string(),
            Value {
                kind: Some(Kind::StringValue("productpage-v1".to_string())),
            },
        );
    }
    let other = generator.translate(&relabelled).unwrap();
    assert_eq!(other.proxy.workload_name, "productpage-v1");
    assert_ne!(first.proxy, other.proxy);
    // Its translation came out equal (nothing reads the workload name), so it holds the same
    // parts.
    assert!(first.shares_parts_with(&other));

    // A new snapshot is translated anew.
    let without_ratings = BOOKINFO.replace("name: ratings\n", "name: scores\n");
    snapshots.send_replace(snapshot(&without_ratings));
    let changed = generator.translate(&node).unwrap();
    assert!(!first.shares_parts_with(&changed));
    assert!(
        changed
            .resources()
            .clusters
            .iter()
            .any(|c| c.name == "outbound|9080||scores.default.svc.cluster.local")
    );
}

#[test]
fn known_proxies_are_translated_by_id_until_forgotten() {
    let (_snapshots, generator) = generator(BOOKINFO);
    assert!(generator.translate_known(PRODUCTPAGE).is_none());
    let translated = generator.translate(&node(PRODUCTPAGE)).unwrap();
    let known = generator.translate_known(PRODUCTPAGE).unwrap().unwrap();
    assert_eq!(known.proxy, translated.proxy);
    assert!(known.shares_parts_with(&translated));
    generator.retain(&["someone-else".to_string()].into());
    assert!(generator.translate_known(PRODUCTPAGE).is_none());
}

const GATEWAY: &str = "\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ['*']
  gateways: [bookinfo-gateway]
  http:
  - route:
    - destination: {host: productpage, port: {number: 9080}}
";

#[test]
fn serves_a_gateway_its_gateway_translation() {
    let (_snapshots, generator) = generator(&format!("{BOOKINFO}\n---\n{GATEWAY}"));
    let gateway = with_labels(
        node("router~198.18.0.90~ingress-1.default~default.svc.cluster.local"),
        &[("istio", "ingressgateway")],
    );
    let listeners = generator
        .generate(&gateway, ResourceType::Listener, &Subscription::Wildcard)
        .unwrap();
    assert_eq!(names(&listeners), ["0.0.0.0_8080"]);
    let clusters = generator
        .generate(&gateway, ResourceType::Cluster, &Subscription::Wildcard)
        .unwrap();
    assert_eq!(
        names(&clusters),
        ["outbound|9080||productpage.default.svc.cluster.local"]
    );
}

#[test]
fn a_node_it_cannot_read_gets_an_error() {
    let (_snapshots, generator) = generator(BOOKINFO);
    let error = generator
        .generate(
            &node("sidecar~reviews"),
            ResourceType::Cluster,
            &Subscription::Wildcard,
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot generate Cluster for sidecar~reviews: node id \"sidecar~reviews\" is not \
         `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`"
    );
}

const REVIEWS_V1: &str = "sidecar~198.18.0.21~reviews-v1-7d8f.default~default.svc.cluster.local";

/// A Sidecar resource for reviews' pods only: their outbound side differs from the others'.
const REVIEWS_SIDECAR: &str = "
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: reviews
  namespace: default
spec:
  workloadSelector:
    labels: {app: reviews}
  egress:
  - hosts: [\"./ratings.default.svc.cluster.local\"]
";

fn labelled(id: &str, app: &str) -> Node {
    with_labels(node(id), &[("app", app), ("pod-template-hash", id)])
}

#[test]
fn sidecars_share_their_outbound_side_until_a_selector_tells_them_apart() {
    let (snapshots, generator) = generator(BOOKINFO);
    let (productpage, reviews) = (
        labelled(PRODUCTPAGE, "productpage"),
        labelled(REVIEWS_V1, "reviews"),
    );
    let whole = |node: &Node| {
        let proxy = Proxy::from_node(node).unwrap();
        translate::sidecar(&generator.snapshot(), &proxy)
    };
    let first = generator.translate(&productpage).unwrap();
    let second = generator.translate(&reviews).unwrap();
    // No selector reads labels: one outbound side, each its own inbound side.
    assert!(first.shares_part(&second, 0));
    assert!(!first.shares_part(&second, 1));
    // Shared or not, each gets exactly what translating it alone gives.
    assert_eq!(first.resources(), whole(&productpage));
    assert_eq!(second.resources(), whole(&reviews));
    assert_ne!(first.resources(), second.resources());

    snapshots.send_replace(snapshot(&format!("{BOOKINFO}{REVIEWS_SIDECAR}")));
    let first = generator.translate(&productpage).unwrap();
    let second = generator.translate(&reviews).unwrap();
    assert!(!first.shares_part(&second, 0));
    assert_eq!(first.resources(), whole(&productpage));
    assert_eq!(second.resources(), whole(&reviews));
    let clusters = |t: &Translated| -> Vec<String> {
        t.resources()
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .filter(|n| n.starts_with("outbound|"))
            .collect()
    };
    assert_eq!(
        clusters(&second),
        ["outbound|9080||ratings.default.svc.cluster.local"]
    );
    assert!(clusters(&first).len() > 1, "{:?}", clusters(&first));
    // Another pod of reviews, with another address and pod name, shares reviews' side.
    let other_pod = labelled(
        "sidecar~198.18.0.22~reviews-v2-7d8f.default~default.svc.cluster.local",
        "reviews",
    );
    let third = generator.translate(&other_pod).unwrap();
    assert!(third.shares_part(&second, 0));
}
