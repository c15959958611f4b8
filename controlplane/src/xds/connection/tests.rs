use envoy_types::pb::{
    envoy::config::core::v3::{Extension, Locality},
    google::protobuf::{Value, value::Kind},
};

use super::*;
use crate::{translate::Proxy, xds::generator::node_namespace, xds::scope::Target};

fn string(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_string())),
    }
}

/// A node as an Istio agent's Envoy sends it: the keys mesh.rs reads, and many it does not.
fn full_node() -> Node {
    let labels = Struct {
        fields: [("app".to_string(), string("reviews"))].into(),
    };
    let mut fields: std::collections::HashMap<String, Value> = [
        (node_metadata::NAMESPACE, string("default")),
        (
            node_metadata::LABELS,
            Value {
                kind: Some(Kind::StructValue(labels)),
            },
        ),
        (node_metadata::INSTANCE_IPS, string("198.18.0.21,fd00::21")),
        (node_metadata::SERVICE_ACCOUNT, string("bookinfo-reviews")),
        (node_metadata::WORKLOAD_NAME, string("reviews-v1")),
        (node_metadata::MESH_ID, string("cluster.local")),
        (node_metadata::PROXY_VERSION, string("1.40.0")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    fields.insert("PROXY_CONFIG".to_string(), string(&"x".repeat(4096)));
    Node {
        id: "sidecar~198.18.0.21~reviews-v1-7d8f.default~default.svc.cluster.local".to_string(),
        cluster: "reviews.default".to_string(),
        metadata: Some(Struct { fields }),
        locality: Some(Locality {
            region: "eu".to_string(),
            ..Locality::default()
        }),
        user_agent_name: "envoy".to_string(),
        extensions: (0..100)
            .map(|i| Extension {
                name: format!("envoy.filters.{i}"),
                ..Extension::default()
            })
            .collect(),
        client_features: vec!["envoy.lb.does_not_support_overprovisioning".to_string()],
        ..Node::default()
    }
}

#[test]
fn the_node_kept_is_its_id_and_the_metadata_read() {
    let kept = kept_node(&full_node());
    assert_eq!(kept.id, full_node().id);
    let mut keys: Vec<&str> = (kept.metadata.iter())
        .flat_map(|m| m.fields.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "INSTANCE_IPS",
            "LABELS",
            "NAMESPACE",
            "SERVICE_ACCOUNT",
            "WORKLOAD_NAME"
        ]
    );
    assert_eq!(
        kept,
        Node {
            id: kept.id.clone(),
            metadata: kept.metadata.clone(),
            ..Node::default()
        }
    );
}

#[test]
fn the_node_kept_reads_as_the_whole_node() {
    let (full, kept) = (full_node(), kept_node(&full_node()));
    assert_eq!(Proxy::from_node(&kept), Proxy::from_node(&full));
    assert_eq!(node_namespace(&kept), Some("default".to_string()));
    assert_eq!(node_namespace(&kept), node_namespace(&full));
    assert_eq!(Target::of_node(&kept), Target::of_node(&full));
    assert_eq!(
        Target::of_node(&kept).ips,
        ["198.18.0.21".to_string(), "fd00::21".to_string()]
    );
}

#[test]
fn a_stream_keeps_the_trimmed_node_of_its_first_request() {
    let mut state = ConnectionState::<crate::xds::sotw::SotwType>::default();
    let full = full_node();
    let kind = state.begin(
        Some(&full),
        "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    );
    assert_eq!(kind, Ok(Some(ResourceType::Cluster)));
    assert_eq!(state.node(), Some(&kept_node(&full)));
}
