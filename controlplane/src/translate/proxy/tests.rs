use envoy_types::pb::{envoy::config::core::v3::Node, google::protobuf::Struct};
use mesh_common::well_known::node_metadata;
use pretty_assertions::assert_eq;

use super::*;

const ID: &str = "sidecar~198.18.0.21~reviews-v1-7d8f.default~default.svc.cluster.local";

fn node(id: &str, metadata: &[(&str, Value)]) -> Node {
    Node {
        id: id.to_string(),
        metadata: Some(Struct {
            fields: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }),
        ..Node::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Value {
    Value {
        kind: Some(Kind::StructValue(Struct {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), string_value(v)))
                .collect(),
        })),
    }
}

#[test]
fn reads_the_id_and_metadata() {
    let proxy = Proxy::from_node(&node(
        ID,
        &[
            (node_metadata::NAMESPACE, string_value("default")),
            (
                node_metadata::SERVICE_ACCOUNT,
                string_value("bookinfo-reviews"),
            ),
            (node_metadata::WORKLOAD_NAME, string_value("reviews-v1")),
            (
                node_metadata::INSTANCE_IPS,
                string_value("198.18.0.21, fd00::21"),
            ),
            (
                node_metadata::LABELS,
                labels(&[("app", "reviews"), ("version", "v1")]),
            ),
        ],
    ))
    .unwrap();
    assert_eq!(
        proxy,
        Proxy {
            kind: ProxyKind::Sidecar,
            ips: vec!["198.18.0.21".to_string(), "fd00::21".to_string()],
            pod: "reviews-v1-7d8f".to_string(),
            namespace: "default".to_string(),
            labels: [("app", "reviews"), ("version", "v1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            service_account: "bookinfo-reviews".to_string(),
            workload_name: "reviews-v1".to_string(),
        }
    );
    assert!(proxy.has_ip("fd00::21"));
    assert!(!proxy.has_ip("198.18.0.22"));
}

#[test]
fn metadata_is_optional() {
    let mut bare = node(
        "router~10.0.0.9~gw-1.istio-system~istio-system.svc.cluster.local",
        &[],
    );
    bare.metadata = None;
    let proxy = Proxy::from_node(&bare).unwrap();
    assert_eq!(proxy.kind, ProxyKind::Router);
    assert_eq!(proxy.ips, vec!["10.0.0.9".to_string()]);
    assert_eq!(proxy.namespace, "istio-system");
    assert_eq!(proxy.pod, "gw-1");
    assert!(proxy.labels.is_empty());
    assert_eq!(proxy.service_account, "");
}

#[test]
fn refuses_what_it_cannot_trust() {
    let cases: Vec<(Node, &str)> = vec![
        (
            node("sidecar~198.18.0.21~reviews", &[]),
            "node id \"sidecar~198.18.0.21~reviews\" is not \
             `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`",
        ),
        (
            node("sidecar~~reviews.default~default.svc.cluster.local", &[]),
            "node id \"sidecar~~reviews.default~default.svc.cluster.local\" is not \
             `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`",
        ),
        (
            node(
                "sidecar~1.2.3.4~reviews.default~other.svc.cluster.local",
                &[],
            ),
            "node id \"sidecar~1.2.3.4~reviews.default~other.svc.cluster.local\" is not \
             `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`",
        ),
        (
            node("waypoint~1.2.3.4~w.default~default.svc.cluster.local", &[]),
            "node id \"waypoint~1.2.3.4~w.default~default.svc.cluster.local\": unknown proxy \
             type \"waypoint\" (expected sidecar or router)",
        ),
        (
            node(ID, &[(node_metadata::NAMESPACE, string_value("prod"))]),
            "node metadata NAMESPACE \"prod\" differs from the node id's \"default\"",
        ),
        (
            node(ID, &[(node_metadata::LABELS, string_value("app=reviews"))]),
            "node metadata LABELS must be a struct of strings",
        ),
        (
            node(ID, &[(node_metadata::SERVICE_ACCOUNT, labels(&[]))]),
            "node metadata SERVICE_ACCOUNT must be a string",
        ),
    ];
    for (node, message) in cases {
        let error = Proxy::from_node(&node).unwrap_err();
        assert_eq!(error.to_string(), message, "{}", node.id);
    }
}
