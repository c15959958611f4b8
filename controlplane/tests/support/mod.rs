//! What the integration tests set up alike: the node a proxy introduces itself with, a control
//! plane on loopback, files saved the way editors save them, and a live Envoy gateway.

#![allow(dead_code)] // Each test binary uses a different part.

pub mod gateway;

use std::{collections::HashMap, fs, path::Path, time::Duration};

use envoy_types::pb::{
    envoy::config::core::v3::Node,
    google::protobuf::{self, Struct, value::Kind},
};
use mesh_common::well_known::node_metadata;
use mesh_controlplane::{
    mesh_config::MeshConfig,
    server::{Config, Source},
    translate::string_value,
};

/// A VirtualService that gives ratings a 7s timeout.
pub const RATINGS_TIMEOUT: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - timeout: 7s
    route:
    - destination: {host: ratings}
";

/// The node an Envoy introduces itself with: its id, its string metadata (such as
/// `node_metadata::NAMESPACE`) and, when it has any, its workload's labels.
pub fn node(id: &str, metadata: &[(&str, &str)], labels: &[(&str, &str)]) -> Node {
    let strings = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), string_value(v)))
            .collect()
    };
    let mut fields: HashMap<_, _> = strings(metadata);
    if !labels.is_empty() {
        let labels = Struct {
            fields: strings(labels),
        };
        let value = protobuf::Value {
            kind: Some(Kind::StructValue(labels)),
        };
        fields.insert(node_metadata::LABELS.to_string(), value);
    }
    Node {
        id: id.to_string(),
        metadata: Some(Struct { fields }),
        ..Node::default()
    }
}

/// A control plane's config for a test: `source`, the xDS and monitoring servers each on a free
/// loopback port, the default mesh config, and `debounce`.
pub fn config(source: Source, debounce: Duration) -> Config {
    Config {
        source,
        xds_address: ([127, 0, 0, 1], 0).into(),
        monitoring_address: ([127, 0, 0, 1], 0).into(),
        debounce,
        debounce_endpoints: false,
        mesh: MeshConfig::default(),
    }
}

/// Writes a file as editors do: a temporary file renamed over the old one.
pub fn save(dir: &Path, name: &str, text: &str) {
    let temporary = dir.join(format!(".{name}.tmp"));
    fs::write(&temporary, text).expect("the temporary file is written");
    fs::rename(&temporary, dir.join(name)).expect("the temporary file is renamed");
}
