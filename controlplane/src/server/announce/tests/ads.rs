//! Scoped pushes through the real ADS server (gRPC on loopback): two sidecars in two
//! namespaces, a change only one of them can see, and an endpoint change both see.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::{
    config::core::v3::Node,
    service::discovery::v3::{
        DiscoveryRequest, DiscoveryResponse,
        aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
    },
};
use mesh_xds::{Resource, ResourceType};
use tokio::{net::TcpListener, sync::mpsc, time::timeout};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use pretty_assertions::assert_eq;

use super::*;
use crate::{
    server::control_plane::XDS_DEBOUNCE,
    xds::{Options, serve},
};

const CDS: ResourceType = ResourceType::Cluster;
const EDS: ResourceType = ResourceType::ClusterLoadAssignment;
const LDS: ResourceType = ResourceType::Listener;
const RDS: ResourceType = ResourceType::RouteConfiguration;

const IN_A: &str = "sidecar~198.18.0.10~web-0.a~a.svc.cluster.local";
const IN_B: &str = "sidecar~198.18.0.20~api-0.b~b.svc.cluster.local";

/// One sidecar's state-of-the-world stream.
struct Sidecar {
    id: &'static str,
    requests: mpsc::Sender<DiscoveryRequest>,
    responses: Streaming<DiscoveryResponse>,
}

impl Sidecar {
    async fn connect(address: std::net::SocketAddr, id: &'static str) -> Sidecar {
        let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        let (requests, requests_rx) = mpsc::channel(8);
        let responses = client
            .stream_aggregated_resources(ReceiverStream::new(requests_rx))
            .await
            .unwrap()
            .into_inner();
        Sidecar {
            id,
            requests,
            responses,
        }
    }

    async fn send(&self, kind: ResourceType, names: &[&str], acked: Option<&DiscoveryResponse>) {
        let request = DiscoveryRequest {
            node: Some(Node {
                id: self.id.to_string(),
                ..Node::default()
            }),
            type_url: kind.type_url().to_string(),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            version_info: acked.map(|r| r.version_info.clone()).unwrap_or_default(),
            response_nonce: acked.map(|r| r.nonce.clone()).unwrap_or_default(),
            ..DiscoveryRequest::default()
        };
        self.requests.send(request).await.unwrap();
    }

    async fn next(&mut self) -> DiscoveryResponse {
        timeout(PATIENCE, self.responses.message())
            .await
            .expect("a response in time")
            .unwrap()
            .expect("the stream is open")
    }

    /// Subscribes as Envoy does, one type after the other, and ACKs each response.
    async fn subscribe(&mut self) {
        let eds = [
            "outbound|80||api.b.svc.cluster.local",
            "outbound|80||web.a.svc.cluster.local",
        ];
        for (kind, names) in [(CDS, &[][..]), (EDS, &eds[..]), (LDS, &[]), (RDS, &["80"])] {
            self.send(kind, names, None).await;
            let response = self.next().await;
            assert_eq!(response.type_url, kind.type_url(), "{}", self.id);
            assert!(!response.resources.is_empty(), "{} {kind:?}", self.id);
            self.send(kind, names, Some(&response)).await;
        }
    }
}

#[tokio::test]
async fn a_change_is_pushed_only_to_the_proxies_and_types_it_affects() {
    let mut files = Files::new(MeshConfig::default());
    let (snapshots, rx) = watch::channel(files.load(&two_namespaces(false)));
    let generator = Arc::new(ModelGenerator::new(rx.clone(), Arc::new(Metrics::new())));
    let status = Arc::new(StatusRegistry::new());
    let (changes_tx, changes) = watch::channel(Changed::default());
    tokio::spawn(announce(
        rx,
        changes_tx,
        Arc::clone(&generator),
        Arc::clone(&status),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let options = Options {
        debounce: XDS_DEBOUNCE,
        status: Arc::clone(&status),
    };
    tokio::spawn(serve(listener, generator, changes, options));
    let mut a = Sidecar::connect(address, IN_A).await;
    let mut b = Sidecar::connect(address, IN_B).await;
    a.subscribe().await;
    b.subscribe().await;
    let reached = |all: u64, endpoints: u64, skipped: u64| {
        let status = Arc::clone(&status);
        async move {
            let expected = [("all", all), ("endpoints", endpoints), ("skipped", skipped)];
            let counts = status.snapshot().reached_total;
            (counts == BTreeMap::from(expected)).then_some(())
        }
    };

    // A private VirtualService of `a`: a's routes change, b is not even regenerated.
    snapshots.send_replace(files.load(&format!("{}{PRIVATE_VS}", two_namespaces(false))));
    let routes = a.next().await;
    assert_eq!(routes.type_url, RDS.type_url());
    a.send(RDS, &["80"], Some(&routes)).await;
    eventually(|| reached(1, 0, 1)).await.unwrap();

    // Another endpoint of web: load assignments alone, to both, and of them only web's, the
    // one that changed. Had b been sent anything for the VirtualService, it would come first.
    snapshots.send_replace(files.load(&format!("{}{PRIVATE_VS}", two_namespaces(true))));
    for sidecar in [&mut a, &mut b] {
        let endpoints = sidecar.next().await;
        assert_eq!(endpoints.type_url, EDS.type_url(), "{}", sidecar.id);
        let names: Vec<String> = endpoints
            .resources
            .iter()
            .map(|any| Resource::decode_any(any).unwrap().name().to_string())
            .collect();
        assert_eq!(
            names,
            ["outbound|80||web.a.svc.cluster.local"],
            "{}",
            sidecar.id
        );
    }
    eventually(|| reached(1, 2, 1)).await.unwrap();
    let pushes = status.snapshot().pushes_total;
    // Four subscriptions each, then one route and two endpoint pushes.
    assert_eq!(pushes["Cluster"], 2);
    assert_eq!(pushes["Listener"], 2);
    assert_eq!(pushes["RouteConfiguration"], 3);
    assert_eq!(pushes["ClusterLoadAssignment"], 4);
}
