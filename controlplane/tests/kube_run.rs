//! The control plane serving from Kubernetes: started with a kubeconfig that points at an
//! in-process API server over real HTTP, it holds proxies back until every kind is listed, then
//! serves a Service and its EndpointSlice and pushes the slice's changes.

// The helpers below are test code too: a failure should panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ads_sidecar;
mod fake_api;
mod support;

use std::{net::SocketAddr, time::Duration};

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{Node, address, socket_address::PortSpecifier},
            endpoint::v3::{ClusterLoadAssignment, lb_endpoint::HostIdentifier},
        },
        service::discovery::v3::DiscoveryResponse,
    },
    google::protobuf::value::Kind,
};
use mesh_common::well_known::node_metadata;
use mesh_controlplane::server::{Config, ControlPlane, KubeSource, Source, StartError};
use mesh_xds::{Resource, ResourceType};
use serde_json::json;
use tokio::time::timeout;

use self::{
    ads_sidecar::{PATIENCE, Sidecar, get, names},
    fake_api::FakeApi,
};

const NODE_ID: &str = "sidecar~198.18.0.10~productpage-v1-1.default~default.svc.cluster.local";
const RATINGS: &str = "outbound|9080||ratings.default.svc.cluster.local";

fn node() -> Node {
    support::node(NODE_ID, &[(node_metadata::NAMESPACE, "default")], &[])
}

fn config(source: Source) -> Config {
    support::config(source, Duration::from_millis(20))
}

/// A kubeconfig whose current context points nowhere, and whose `fake` context points at the
/// fake API server: the control plane reaches the fake only if it honours the context.
fn kubeconfig(dir: &std::path::Path, server: SocketAddr) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\n\
         clusters:\n\
         - {{name: fake, cluster: {{server: 'http://{server}'}}}}\n\
         - {{name: elsewhere, cluster: {{server: 'http://127.0.0.1:1'}}}}\n\
         users:\n- {{name: nobody, user: {{}}}}\n\
         contexts:\n\
         - {{name: fake, context: {{cluster: fake, user: nobody}}}}\n\
         - {{name: elsewhere, context: {{cluster: elsewhere, user: nobody}}}}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `GET path` on the monitoring server: the status code and the body.
/// The `address:port` of every endpoint of a load assignment response.
fn addresses(response: &DiscoveryResponse) -> Vec<String> {
    let mut out = Vec::new();
    for any in &response.resources {
        let Resource::ClusterLoadAssignment(assignment) = Resource::decode_any(any).unwrap() else {
            panic!("not a load assignment");
        };
        let assignment: ClusterLoadAssignment = *assignment;
        for endpoint in assignment.endpoints.iter().flat_map(|l| &l.lb_endpoints) {
            let Some(HostIdentifier::Endpoint(endpoint)) = &endpoint.host_identifier else {
                continue;
            };
            let address = endpoint.address.as_ref().and_then(|a| a.address.as_ref());
            if let Some(address::Address::SocketAddress(socket)) = address {
                let Some(PortSpecifier::PortValue(port)) = socket.port_specifier else {
                    continue;
                };
                out.push(format!("{}:{port}", socket.address));
            }
        }
    }
    out
}

/// Each endpoint's Istio workload metadata, in order.
fn workloads(response: &DiscoveryResponse) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for any in &response.resources {
        let Resource::ClusterLoadAssignment(assignment) = Resource::decode_any(any).unwrap() else {
            panic!("not a load assignment");
        };
        for endpoint in assignment.endpoints.iter().flat_map(|l| &l.lb_endpoints) {
            let istio = endpoint
                .metadata
                .as_ref()
                .and_then(|m| m.filter_metadata.get("istio"));
            let workload = istio.and_then(|s| s.fields.get("workload"));
            out.push(workload.and_then(|v| match &v.kind {
                Some(Kind::StringValue(text)) => Some(text.clone()),
                _ => None,
            }));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_cluster_once_listed_and_pushes_its_changes() {
    let api = FakeApi::start(&["/api/v1/pods"]).await;
    let dir = tempfile::tempdir().unwrap();
    let source = Source::Kubernetes(KubeSource {
        kubeconfig: Some(kubeconfig(dir.path(), api.address())),
        context: Some("fake".to_string()),
    });
    let control_plane = ControlPlane::start(config(source)).await.unwrap();
    let monitoring = control_plane.monitoring_address();

    // Pods are not listed yet: not ready, and a proxy that connects waits.
    assert_eq!(
        get(monitoring, "/ready").await,
        (503, "not ready\n".to_string())
    );
    let xds = control_plane.xds_address();
    let mut early = tokio::spawn(async move {
        // What a starting Envoy sends first: every cluster.
        let mut sidecar = Sidecar::connect(xds, node()).await;
        let clusters = sidecar.subscribe(ResourceType::Cluster, &[]).await;
        (sidecar, clusters)
    });
    assert!(
        timeout(Duration::from_millis(300), &mut early)
            .await
            .is_err(),
        "a proxy was served before every kind was listed"
    );
    assert_eq!(get(monitoring, "/ready").await.0, 503);

    api.release();
    let (mut sidecar, clusters) = timeout(PATIENCE, early).await.unwrap().unwrap();
    assert_eq!(
        names(&clusters),
        ["BlackHoleCluster", "PassthroughCluster", RATINGS]
    );
    assert_eq!(
        get(monitoring, "/ready").await,
        (200, "ready\n".to_string())
    );
    let endpoints = sidecar
        .subscribe(ResourceType::ClusterLoadAssignment, &[RATINGS])
        .await;
    assert_eq!(addresses(&endpoints), ["198.18.0.20:9080"]);
    assert_eq!(
        workloads(&endpoints),
        [Some(
            "ratings-v1-1;default;ratings;v1;Kubernetes".to_string()
        )]
    );
    let listeners = sidecar.subscribe(ResourceType::Listener, &[]).await;
    assert_eq!(
        names(&listeners),
        ["0.0.0.0_9080", "virtualInbound", "virtualOutbound"]
    );

    // A second ratings pod becomes ready: its endpoint is pushed.
    api.event(
        "/apis/discovery.k8s.io/v1/endpointslices",
        json!({"type": "MODIFIED", "object": fake_api::ratings_slice(&["198.18.0.20", "198.18.0.21"], "101")}),
    );
    let pushed = sidecar.next().await;
    assert_eq!(
        pushed.type_url,
        ResourceType::ClusterLoadAssignment.type_url()
    );
    assert_eq!(addresses(&pushed), ["198.18.0.20:9080", "198.18.0.21:9080"]);
    // An address no pod is known to hold has no workload to name.
    assert_eq!(
        workloads(&pushed),
        [
            Some("ratings-v1-1;default;ratings;v1;Kubernetes".to_string()),
            None
        ]
    );
    timeout(PATIENCE, control_plane.stop())
        .await
        .expect("the control plane stops in time")
        .unwrap();
}

#[tokio::test]
async fn a_missing_kubeconfig_is_named() {
    let source = Source::Kubernetes(KubeSource {
        kubeconfig: Some("/nonexistent/kubeconfig".into()),
        context: None,
    });
    let error = ControlPlane::start(config(source)).await.unwrap_err();
    assert!(matches!(error, StartError::Kube { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot read the kubeconfig /nonexistent/kubeconfig: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn a_missing_context_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = kubeconfig(dir.path(), "127.0.0.1:1".parse().unwrap());
    let source = Source::Kubernetes(KubeSource {
        kubeconfig: Some(path.clone()),
        context: Some("staging".to_string()),
    });
    let error = ControlPlane::start(config(source)).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "kubeconfig {}, context \"staging\": failed to load current context: staging",
            path.display()
        )
    );
}
